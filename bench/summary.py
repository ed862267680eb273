"""Every benchmark's recorded figures in one table, each beside its ceiling and target.

    python bench/summary.py                      # the records under build/bench-results
    SALESPLANE_BENCH_RESULTS=<dir> python bench/summary.py

Reads each benchmark's record (bench_results.record writes one JSON file per benchmark), prints
one table: bench, figure, value, ceiling (what it is and its value, measured in the same run),
ratio (figure / ceiling; ceiling / figure where lower is better), target, met (yes, NO, or - when
the figure has no target), and the commit and load average of the run that recorded it; then the
notes of each record. The same table is written as Markdown to summary.md beside the records.
It is a report: the exit code is 0 whether or not the targets are met.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from salesplane_testing import bench_results

COLUMNS = ("bench", "figure", "value", "ceiling", "ratio", "target", "met", "commit", "load")


@dataclass(frozen=True)
class Record:
    bench: str
    commit: str
    load_average: float
    notes: list[str]
    figures: list[bench_results.Figure]


def number(value: float) -> str:
    """Three significant figures or more, thousands separated: 1,520 / 18.4 / 0.0731."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def ratio_text(ratio: float) -> str:
    """Two decimals, or two significant figures below 0.1 (a figure far from its ceiling)."""
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"


def met_text(met: bool | None) -> str:
    return "-" if met is None else "yes" if met else "NO"


def read_records(directory: Path) -> tuple[list[Record], list[str]]:
    """The records in `directory` by file name, and the files that could not be read."""
    records: list[Record] = []
    unreadable: list[str] = []
    for path in sorted(directory.glob("*.json")):
        # One broken record (a benchmark killed while writing it) must not hide the others.
        try:
            document, figures = bench_results.load(path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            unreadable.append(f"{path.name}: {error!r}")
            continue
        load_average, notes = document.get("load_average"), document.get("notes")
        records.append(
            Record(
                bench=str(document.get("bench") or path.stem),
                commit=str(document.get("commit") or "-"),
                load_average=float(load_average) if isinstance(load_average, int | float) else 0.0,
                notes=[str(n) for n in notes] if isinstance(notes, list) else [],
                figures=figures,
            )
        )
    return records, unreadable


def rows_of(records: Sequence[Record]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for record in records:
        for figure in record.figures:
            ceiling = (
                "-"
                if figure.ceiling is None
                else f"{figure.ceiling_name or 'ceiling'}: {number(figure.ceiling)} {figure.unit}"
            )
            rows.append(
                (
                    record.bench,
                    figure.name,
                    f"{number(figure.value)} {figure.unit}",
                    ceiling,
                    "-" if figure.ratio is None else ratio_text(figure.ratio),
                    figure.target.describe(figure.unit),
                    met_text(figure.met),
                    record.commit,
                    f"{record.load_average:.2f}",
                )
            )
    return rows


def tally(records: Sequence[Record]) -> str:
    judged = [f.met for r in records for f in r.figures if f.met is not None]
    figures = sum(len(r.figures) for r in records)
    return (
        f"{len(records)} benchmarks, {figures} figures: {judged.count(True)} targets met, "
        f"{judged.count(False)} missed, {figures - len(judged)} without a target"
    )


def text_table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    # Numbers right-aligned so their digits line up; words left-aligned.
    right = {"value", "ratio", "load"}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if name in right else cell.ljust(width)
            for name, cell, width in zip(COLUMNS, cells, widths, strict=True)
        ).rstrip()

    return "\n".join([line(COLUMNS), line(["-" * w for w in widths]), *(line(row) for row in rows)])


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(rows: Sequence[tuple[str, ...]]) -> str:
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---:" if c in {"value", "ratio", "load"} else "---" for c in COLUMNS) + "|"
    body = ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join([header, rule, *body])


def notes_lines(records: Sequence[Record], unreadable: Sequence[str]) -> list[str]:
    lines = [f"{r.bench}: {note}" for r in records for note in r.notes]
    lines.extend(f"unreadable record {entry}" for entry in unreadable)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--results", type=Path, default=None, help="the records' directory (default: as the benchmarks)"
    )
    options = parser.parse_args()
    directory = options.results or bench_results.results_dir()
    records, unreadable = read_records(directory)
    rows = rows_of(records)
    notes = notes_lines(records, unreadable)
    if not rows:
        print(f"no benchmark figures recorded in {directory}")
    else:
        print(text_table(rows))
        print(tally(records))
    for note in notes:
        print(f"  {note}")
    markdown = ["# Benchmarks", "", markdown_table(rows), "", tally(records)]
    if notes:
        markdown.extend(["", "Notes:", "", *(f"- {markdown_cell(note)}" for note in notes)])
    summary = directory / "summary.md"
    summary.write_text("\n".join(markdown) + "\n")
    print(f"written: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
