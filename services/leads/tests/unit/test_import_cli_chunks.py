"""How the import tool cuts a file into chunks, and how it shows progress."""

from __future__ import annotations

import io

from salesplane_leads.domain.csv_rows import ImportRow, parse_chunk
from salesplane_leads.entrypoints.import_cli import Progress, chunks, csv_records
from salesplane_platform.csv_records import CsvRecord


def lines(text: str) -> list[str]:
    return io.StringIO(text, newline="").readlines()


FILE = 'last_name,description\nA,one\n\nB,"two\nlines"\nC,three\nD,four\n'


def test_records_are_cut_where_csv_cuts_them_with_their_first_line() -> None:
    records = list(csv_records(lines(FILE)))

    assert [(r.first_line, r.text, r.blank) for r in records] == [
        (1, "last_name,description\n", False),
        (2, "A,one\n", False),
        (3, "\n", True),
        (4, 'B,"two\nlines"\n', False),
        (6, "C,three\n", False),
        (7, "D,four\n", False),
    ]


def test_each_chunk_repeats_the_header_and_knows_its_first_line() -> None:
    found = list(chunks(csv_records(lines(FILE)), size=2))

    assert [(c.first_line_number, c.rows) for c in found] == [(2, 2), (6, 2)]
    assert found[1].csv_text == "last_name,description\nC,three\nD,four\n"


def test_the_service_reads_each_chunk_back_at_the_original_line_numbers() -> None:
    numbered = []
    for chunk in chunks(csv_records(lines(FILE)), size=2):
        rows = parse_chunk(chunk.csv_text, first_line_number=chunk.first_line_number)
        numbered += [(row.line_number, row.fields.last_name) for row in rows if isinstance(row, ImportRow)]

    assert numbered == [(2, "A"), (4, "B"), (6, "C"), (7, "D")]


def test_a_header_without_a_final_line_break_still_separates_from_the_rows() -> None:
    records = iter([CsvRecord(1, 1, "last_name", blank=False), CsvRecord(2, 2, "X\n", blank=False)])

    [only] = list(chunks(records, size=5))

    assert only.csv_text == "last_name\nX\n"


def test_a_file_with_only_a_header_has_no_chunks() -> None:
    assert list(chunks(csv_records(lines("last_name\n")), size=5)) == []


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal() -> None:
    terminal = FakeTerminal()
    progress = Progress(200, terminal)

    progress.update(50)
    progress.update(200)
    progress.finish()

    output = terminal.getvalue()
    assert output.count("\r") == 2 and output.endswith("\n")
    assert "50/200 rows  25%" in output and "200/200 rows 100%" in output
    assert "rows/s" in output and "ETA" in output


def test_progress_writes_a_line_per_update_into_a_log() -> None:
    log = io.StringIO()
    progress = Progress(10, log)

    progress.update(5)
    progress.update(10)

    assert log.getvalue().count("\n") == 2 and "\r" not in log.getvalue()
