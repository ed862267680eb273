#!/usr/bin/env bash
# Install toxiproxy-server (Shopify's TCP proxy that injects latency, bandwidth limits, resets and
# blackholes) for the network fault tests, if it is not already available.
#
# Idempotent: does nothing when `toxiproxy-server` is on PATH or in "$(go env GOBIN)" /
# "$(go env GOPATH)/bin". Otherwise builds the pinned release from source with `go install`
# through the Go module proxy (under a minute on a small machine; Go's build cache makes later
# runs instant).
#
# The module's command lives in cmd/server, so `go install` names the binary `server`, a name too
# generic to look for on PATH; it is built into a scratch directory and moved to where `go install`
# would have put it, as `toxiproxy-server` (the name of the project's own release binaries).
#
# Prints the absolute location of the toxiproxy-server binary on its last line of stdout.
set -euo pipefail

TOXIPROXY_VERSION="${TOXIPROXY_VERSION:-v2.12.0}"

log() { echo "install-toxiproxy: $*" >&2; }

# shellcheck source=tools/find-go-tool.sh
source "$(dirname "${BASH_SOURCE[0]}")/find-go-tool.sh"
find_toxiproxy() { find_go_tool toxiproxy-server; }

if existing="$(find_toxiproxy)"; then
  echo "$existing"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "neither toxiproxy-server nor go found; install Go (>= 1.24)"
  exit 1
fi

destination="$(go env GOBIN)"
if [[ -z "$destination" ]]; then
  gopath="$(go env GOPATH)"
  destination="${gopath%%:*}/bin"
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

log "building github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION} with $(go version)"
# The version its release builds stamp in (otherwise `toxiproxy-server -version` says "git").
GOBIN="$scratch" go install -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION}" \
  "github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION}"
mkdir -p "$destination"
# Through a temporary name in the destination, so a concurrent run never sees half a binary.
cp "$scratch/server" "$destination/.toxiproxy-server.$$"
mv -f "$destination/.toxiproxy-server.$$" "$destination/toxiproxy-server"
find_toxiproxy
