"""Where the Go-built command-line tools the tests use (helm, promtool) are: on PATH, or where
`go install` puts binaries ($GOBIN, else each $GOPATH's bin), as tools/find-go-tool.sh looks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def go_tool(name: str, *, env_var: str | None = None) -> str | None:
    """The executable `name`, or None; `env_var` (e.g. HELM) may name it explicitly."""
    explicit = os.environ.get(env_var) if env_var else None
    if explicit and Path(explicit).is_file():
        return explicit
    if found := shutil.which(name):
        return found
    go = shutil.which("go")
    if not go:
        return None
    candidates: list[Path] = []
    for var in ("GOBIN", "GOPATH"):
        try:
            out = subprocess.run(
                [go, "env", var], capture_output=True, text=True, timeout=60, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if var == "GOBIN" and out:
            candidates.append(Path(out) / name)
        elif out:
            candidates.extend(Path(p) / "bin" / name for p in out.split(os.pathsep) if p)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None
