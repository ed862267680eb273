"""Where tests leave what people read afterwards (screenshots, fault tables, soak figures):
$SALESPLANE_TEST_ARTEFACTS/<kind>, else build/test-artefacts/<kind> under the directory the tests
run from (the checkout: CI keeps its workspace's build/)."""

from __future__ import annotations

import os
from pathlib import Path


def artefacts_dir(kind: str) -> Path:
    chosen = os.environ.get("SALESPLANE_TEST_ARTEFACTS", "").strip()
    target = (Path(chosen) if chosen else Path.cwd() / "build" / "test-artefacts") / kind
    target.mkdir(parents=True, exist_ok=True)
    return target
