#!/usr/bin/env bash
# Install the Helm v3 CLI if it is not already available.
#
# Idempotent: does nothing when a `helm` binary is already on PATH or in
# "$(go env GOPATH)/bin". Otherwise builds the pinned release from source with
# `go install` through the Go module proxy (no GitHub / get.helm.sh access
# needed). Compiling takes a few minutes on a small machine.
#
# Usage: tools/install-helm.sh            # install the pinned version
#        HELM_VERSION=v3.19.0 tools/install-helm.sh
#        tools/install-helm.sh --force    # rebuild even if helm is present
#
# Prints the absolute location of the helm binary on its last line of stdout.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.19.5}"
FORCE=0
if [[ "${1:-}" == "--force" ]]; then
  FORCE=1
fi

log() { echo "install-helm: $*" >&2; }

# shellcheck source=tools/find-go-tool.sh
source "$(dirname "${BASH_SOURCE[0]}")/find-go-tool.sh"
find_helm() { find_go_tool helm; }

if [[ "$FORCE" -eq 0 ]] && existing="$(find_helm)"; then
  log "helm already installed: $("$existing" version --short 2>/dev/null || echo unknown version)"
  echo "$existing"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  log "neither helm nor go found; install Go (>= 1.24) or Helm ${HELM_VERSION} manually" 
  exit 1
fi

log "building helm.sh/helm/v3/cmd/helm@${HELM_VERSION} with $(go version) (this takes a few minutes)"
start="$(date +%s)"

# Reproduce the ldflags of Helm's Makefile: without them `helm version` reports
# "v3.x+unreleased" and the default Kubernetes version used by `helm template`
# / `helm lint` (when --kube-version is not given) falls back to v1.20.
# Helm derives that default from the k8s.io/client-go version in its go.mod
# (client-go v0.34.x -> Kubernetes 1.34).
gomod="$(GOFLAGS=-mod=mod go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" \
  | sed -n 's/^[[:space:]]*"GoMod":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p' || true)"
client_go=""
if [[ -n "${gomod}" && -f "${gomod}" ]]; then
  client_go="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "${gomod}")"
fi
k8s_minor="$(echo "${client_go}" | cut -d. -f2)"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
if [[ "${k8s_minor}" =~ ^[0-9]+$ ]]; then
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1 -X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${k8s_minor}"
  done
else
  log "warning: could not read k8s.io/client-go from helm's go.mod; default kube version stays v1.20"
fi

# -mod=mod: resolve helm's module graph from its go.mod instead of a vendor dir.
GOFLAGS=-mod=mod go install -ldflags "${ldflags}" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
end="$(date +%s)"

installed="$(find_helm)" || { log "go install succeeded but helm binary not found"; exit 1; }
log "installed $("$installed" version --short 2>/dev/null || echo helm) in $((end - start))s"
if ! command -v helm >/dev/null 2>&1; then
  log "note: $(dirname "$installed") is not on PATH; add it or call helm by full path"
fi
echo "$installed"
