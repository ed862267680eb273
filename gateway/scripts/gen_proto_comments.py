"""Regenerate gateway/src/salesplane_gateway/proto_comments.json from protos/ (after editing a .proto).

uv run python gateway/scripts/gen_proto_comments.py
"""

from __future__ import annotations

from pathlib import Path

from salesplane_gateway.proto_comments import COMMENTS_FILE, comments_json, comments_of_protos

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    target = ROOT / "gateway" / "src" / "salesplane_gateway" / COMMENTS_FILE
    comments = comments_of_protos(ROOT / "protos")
    target.write_text(comments_json(comments), encoding="utf-8")
    print(f"wrote {len(comments)} comments to {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
