# Sourced by the install-*.sh scripts: `find_go_tool NAME` prints where the command NAME is, on
# PATH or where `go install` puts binaries ($GOBIN, else the first $GOPATH's bin), and fails when
# it is in neither.
find_go_tool() {
  local name="$1"
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return 0
  fi
  if command -v go >/dev/null 2>&1; then
    local gobin gopath
    gobin="$(go env GOBIN)"
    gopath="$(go env GOPATH)"
    for candidate in "${gobin:+$gobin/$name}" "${gopath%%:*}/bin/$name"; do
      if [[ -n "$candidate" && -x "$candidate" ]]; then
        echo "$candidate"
        return 0
      fi
    done
  fi
  return 1
}
