"""CSV text cut into its records as they stand in the file, each with the lines it spans.

A quoted value may span lines, so a file cannot be cut at line breaks: the csv module finds the
records, and each record's raw text (line ends kept) is taken from the lines it consumed. Whoever
sends a file in chunks (the gateway's upload, the import command) cuts it here, exactly where the
leads service's CSV reader will cut it, so line numbers in the service's report match the file."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class CsvRecord:
    # Lines of the file (the first line is 1) the record starts and ends on.
    first_line: int
    last_line: int
    text: str
    # Only empty or white-space values: the service skips such rows.
    blank: bool


class CsvSyntaxError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"is not valid CSV at line {line}: {reason}")
        self.line = line


def csv_records(lines: Iterable[str], *, strict: bool = False) -> Iterator[CsvRecord]:
    """The records of CSV `lines` (read with newline="" so line ends are kept); CsvSyntaxError
    names the line where the text stops being CSV (with `strict`, also a stray quote)."""
    consumed: list[str] = []

    def tapped() -> Iterator[str]:
        for line in lines:
            consumed.append(line)
            yield line

    reader = csv.reader(tapped(), strict=strict)
    first_line = 1
    try:
        for values in reader:
            blank = not any(value.strip() for value in values)
            yield CsvRecord(first_line, reader.line_num, "".join(consumed), blank)
            first_line = reader.line_num + 1
            consumed.clear()
    except csv.Error as error:
        raise CsvSyntaxError(reader.line_num, str(error)) from None
