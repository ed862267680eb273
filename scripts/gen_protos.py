"""Generate the `salesplane` contracts package from protos/ (`make proto`).

With --check, generates into a scratch directory and fails when the committed code differs, so CI
catches a proto edited without regenerating.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PACKAGE_ROOT = ROOT / "contracts" / "python" / "src"


def generate(out_dir: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    well_known = Path(protoc.__file__).parent / "_proto"
    plugins = Path(sys.executable).parent  # mypy-protobuf's plugins live beside this interpreter
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={plugins / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={plugins / 'protoc-gen-mypy_grpc'}",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Every directory on the way is a regular package so imports are absolute and unambiguous.
    for directory in [
        out_dir / "salesplane",
        *(p for p in (out_dir / "salesplane").rglob("*") if p.is_dir()),
    ]:
        (directory / "__init__.py").touch()
    (out_dir / "salesplane" / "py.typed").touch()


def differences(left: Path, right: Path) -> list[str]:
    comparison = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [f"only in one tree: {name}" for name in comparison.left_only + comparison.right_only]
    found += [f"differs: {name}" for name in comparison.diff_files]
    for name, sub in comparison.subdirs.items():
        found += [f"{name}/{item}" for item in differences(Path(sub.left), Path(sub.right))]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    options = parser.parse_args()
    if options.check:
        with tempfile.TemporaryDirectory() as scratch:
            generate(Path(scratch))
            stale = differences(Path(scratch) / "salesplane", PACKAGE_ROOT / "salesplane")
        if stale:
            print("generated code is stale; run `make proto`:", *stale, sep="\n  ", file=sys.stderr)
            return 1
        print("generated code is up to date")
        return 0
    shutil.rmtree(PACKAGE_ROOT / "salesplane", ignore_errors=True)
    generate(PACKAGE_ROOT)
    print(f"generated {PACKAGE_ROOT.relative_to(ROOT)}/salesplane")
    return 0


if __name__ == "__main__":
    sys.exit(main())
