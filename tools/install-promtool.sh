#!/usr/bin/env bash
# Install promtool (Prometheus's rule and metrics checker) if it is not already available.
#
# Idempotent: does nothing when `promtool` is on PATH or in "$(go env GOPATH)/bin". Otherwise
# builds the pinned release from source with `go install` through the Go module proxy (several
# minutes on a small machine; Go's build cache makes later runs instant).
#
# Prints the absolute location of the promtool binary on its last line of stdout.
set -euo pipefail

# Prometheus v3.x publishes its Go module as v0.3xx.y (github.com/prometheus/prometheus).
PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"

log() { echo "install-promtool: $*" >&2; }

# shellcheck source=tools/find-go-tool.sh
source "$(dirname "${BASH_SOURCE[0]}")/find-go-tool.sh"
find_promtool() { find_go_tool promtool; }

if existing="$(find_promtool)"; then
  echo "$existing"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "neither promtool nor go found; install Go (>= 1.24)"
  exit 1
fi
log "building github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_MODULE_VERSION} (this takes a few minutes)"
go install "github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_MODULE_VERSION}"
find_promtool
