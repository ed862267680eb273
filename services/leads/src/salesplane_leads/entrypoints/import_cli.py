"""salesplane-leads-import: stream a CSV file of leads through the ImportLeads API in chunks.

The service parses and validates the rows; this tool only cuts the file into chunks at record
boundaries (a quoted value may span lines), repeats the header in each, tells the service where each
chunk starts in the file, shows progress, and collects the per-row outcomes. Each chunk is imported
in one transaction and re-importing a row is a no-op, so after a failure the same command can simply
be run again.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import grpc

from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane_platform.csv_records import CsvRecord, CsvSyntaxError, csv_records
from salesplane_platform.identity import AUTHORIZATION_HEADER

EXIT_OK = 0
EXIT_ROWS_NEED_ATTENTION = 1
EXIT_USAGE = 2
EXIT_SERVICE_FAILED = 3
TOKEN_ENV = "SALESPLANE_TOKEN"
DEFAULT_ADDRESS = "localhost:50051"
MAX_CHUNK_SIZE = 1000
RETRYABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
# Running again will not help: the file or the credentials must change first.
CALLER_ERRORS = frozenset(
    {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
)
POLICIES = {
    "reject": leads_pb2.DUPLICATE_POLICY_REJECT,
    "insist": leads_pb2.DUPLICATE_POLICY_INSIST,
    "merge": leads_pb2.DUPLICATE_POLICY_MERGE,
}
OUTCOME_NAMES = {
    leads_pb2.IMPORT_ROW_OUTCOME_IMPORTED: "imported",
    leads_pb2.IMPORT_ROW_OUTCOME_INVALID: "invalid",
    leads_pb2.IMPORT_ROW_OUTCOME_DUPLICATE: "duplicate",
    leads_pb2.IMPORT_ROW_OUTCOME_ALREADY_IMPORTED: "already imported",
    leads_pb2.IMPORT_ROW_OUTCOME_MERGED: "merged",
}
NEEDS_ATTENTION = frozenset({leads_pb2.IMPORT_ROW_OUTCOME_INVALID, leads_pb2.IMPORT_ROW_OUTCOME_DUPLICATE})
# Shown on the terminal when no --report file is written; the report has all of them.
MAX_PROBLEMS_PRINTED = 20

EPILOG = f"""\
exit status:
  {EXIT_OK}  every row was imported, merged or had been imported before
  {EXIT_ROWS_NEED_ATTENTION}  the file went through, but some rows were invalid or duplicates (see the
     report); every other row was imported
  {EXIT_USAGE}  the command or the file cannot be used (bad arguments, no token, unreadable file,
     unusable header); nothing more was imported
  {EXIT_SERVICE_FAILED}  the service failed or could not be reached part-way; the chunks before were
     imported; run the same command again to finish (nothing is imported twice)
"""


@dataclass(frozen=True)
class Chunk:
    first_line_number: int
    csv_text: str
    rows: int


def chunks(records: Iterator[CsvRecord], *, size: int) -> Iterator[Chunk]:
    """Chunks of `size` data rows, each with the header in front; blank lines travel along (the
    service skips them) so line numbers stay right."""
    header = next(records, None)
    if header is None:
        return
    header_text = header.text if header.text.endswith(("\n", "\r")) else header.text + "\n"
    batch: list[CsvRecord] = []
    rows = 0
    for record in records:
        if not batch and record.blank:
            continue  # a chunk starts at a data row
        batch.append(record)
        rows += not record.blank
        if rows == size:
            yield _chunk(header_text, batch, rows)
            batch, rows = [], 0
    if rows:
        yield _chunk(header_text, batch, rows)


def _chunk(header_text: str, batch: list[CsvRecord], rows: int) -> Chunk:
    text = "".join(record.text for record in batch)
    return Chunk(batch[0].first_line, header_text + text, rows)


class Progress:
    """A one-line progress bar on a terminal (a line per update elsewhere, for logs)."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total = total
        self._stream = stream
        self._started = time.monotonic()
        self._interactive = stream.isatty()

    def update(self, done: int) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = done / elapsed
        share = done / self._total if self._total else 1.0
        filled = int(self.WIDTH * share)
        remaining = (self._total - done) / rate if rate > 0 else 0.0
        line = (
            f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {done:,}/{self._total:,} rows"
            f" {share:4.0%}  {rate:,.0f} rows/s  ETA {_duration(remaining)}"
        )
        if self._interactive:
            self._stream.write(f"\r{line}")
        else:
            self._stream.write(f"{line}\n")
        self._stream.flush()

    def finish(self) -> None:
        if self._interactive:
            self._stream.write("\n")
            self._stream.flush()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass
class Outcome:
    rows: list[leads_pb2.ImportRowResult] = field(default_factory=list)

    def counts(self) -> Counter[int]:
        return Counter(row.outcome for row in self.rows)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="salesplane-leads-import",
        description="Import leads from a CSV file (header line first) through the leads service.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="CSV file, UTF-8")
    parser.add_argument(
        "--address", default=DEFAULT_ADDRESS, help=f"leads service host:port ({DEFAULT_ADDRESS})"
    )
    parser.add_argument("--token", default=None, help=f"bearer token (default: ${TOKEN_ENV})")
    parser.add_argument("--chunk-size", type=int, default=200, help="rows per request, 1-1000 (200)")
    parser.add_argument("--on-duplicate", choices=sorted(POLICIES), default="reject", help="(reject)")
    parser.add_argument(
        "--report", type=Path, default=None, help="write every row's outcome to this CSV file"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per chunk (60)")
    parser.add_argument(
        "--retries", type=int, default=3, help="retries of a chunk the service did not answer (3)"
    )
    options = parser.parse_args(argv)
    if not 1 <= options.chunk_size <= MAX_CHUNK_SIZE:
        parser.error(f"--chunk-size must be between 1 and {MAX_CHUNK_SIZE}")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_arguments(argv)
    token = options.token or os.environ.get(TOKEN_ENV, "")
    if not token:
        return _fail(f"no token: pass --token or set {TOKEN_ENV}", EXIT_USAGE)
    path: Path = options.file
    try:
        total = _count_rows(path)
    except (OSError, UnicodeDecodeError, CsvSyntaxError) as error:
        return _fail(f"cannot read {path}: {error}", EXIT_USAGE)

    outcome = Outcome()
    progress = Progress(total, sys.stderr)
    done = 0
    with grpc.insecure_channel(options.address) as channel, _records(path) as records:
        stub = leads_pb2_grpc.LeadServiceStub(channel)
        progress.update(0)
        for chunk in chunks(records, size=options.chunk_size):
            request = leads_pb2.ImportLeadsRequest(
                csv_text=chunk.csv_text,
                first_line_number=chunk.first_line_number,
                on_duplicate=POLICIES[options.on_duplicate],
                file_name=path.name,
            )
            try:
                response = _send(stub, request, token, timeout=options.timeout, retries=options.retries)
            except grpc.RpcError as error:
                progress.finish()
                _write_report(options.report, outcome)
                code = error.code()
                where = f"the chunk starting at line {chunk.first_line_number}"
                message = f"{where} failed: {code.name}: {error.details()}"
                if code in CALLER_ERRORS:
                    return _fail(message, EXIT_USAGE)
                return _fail(
                    f"{message}\nrows before it were imported; run the command again to finish",
                    EXIT_SERVICE_FAILED,
                )
            outcome.rows.extend(response.rows)
            done += chunk.rows
            progress.update(done)
    progress.finish()
    _write_report(options.report, outcome)
    _print_summary(outcome, total, printed_problems=options.report is None)
    counts = outcome.counts()
    return EXIT_ROWS_NEED_ATTENTION if any(counts[o] for o in NEEDS_ATTENTION) else EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


@contextmanager
def _records(path: Path) -> Iterator[Iterator[CsvRecord]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        yield csv_records(file)


def _count_rows(path: Path) -> int:
    with _records(path) as records:
        next(records, None)
        return sum(not record.blank for record in records)


def _send(
    stub: leads_pb2_grpc.LeadServiceStub,
    request: leads_pb2.ImportLeadsRequest,
    token: str,
    *,
    timeout: float,
    retries: int,
) -> leads_pb2.ImportLeadsResponse:
    """Send one chunk; retry when the outcome is unknown (the service imports a row at most once,
    so a chunk that did go through the first time just reports its rows as already imported)."""
    metadata = ((AUTHORIZATION_HEADER, f"Bearer {token}"),)
    for attempt in range(retries + 1):
        try:
            return stub.ImportLeads(request, metadata=metadata, timeout=timeout)
        except grpc.RpcError as error:
            if error.code() not in RETRYABLE or attempt == retries:
                raise
            time.sleep(min(2.0**attempt, 10.0))
    raise AssertionError("unreachable")


def _write_report(path: Path | None, outcome: Outcome) -> None:
    if path is None:
        return
    with path.open("w", encoding="utf-8", newline="") as report:
        writer = csv.writer(report)
        writer.writerow(["line_number", "outcome", "lead_id", "reasons"])
        for row in outcome.rows:
            writer.writerow(
                [row.line_number, OUTCOME_NAMES.get(row.outcome, "?"), row.lead_id, "; ".join(row.reasons)]
            )


def _print_summary(outcome: Outcome, total: int, *, printed_problems: bool) -> None:
    counts = outcome.counts()
    parts = [f"{counts[number]:,} {name}" for number, name in OUTCOME_NAMES.items()]
    print(f"{total:,} rows: " + ", ".join(parts))
    if not printed_problems:
        return
    problems = [row for row in outcome.rows if row.outcome in NEEDS_ATTENTION]
    for row in problems[:MAX_PROBLEMS_PRINTED]:
        print(f"  line {row.line_number}: {OUTCOME_NAMES[row.outcome]}: {'; '.join(row.reasons)}")
    if len(problems) > MAX_PROBLEMS_PRINTED:
        print(f"  ... and {len(problems) - MAX_PROBLEMS_PRINTED} more; use --report FILE to get them all")


def _fail(message: str, status: int) -> int:
    print(f"salesplane-leads-import: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    run()
