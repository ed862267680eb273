"""What the broker actually stored, read with Kafka's own DumpLogSegments: each record batch's
producer id and sequence numbers. They show on the wire what the relay's settings promise: an
idempotent producer (a producer id on every batch) whose retries the broker deduplicated and kept
in order (each producer's sequence numbers on a partition run on from 0 without a gap or a repeat;
the broker refuses a batch out of sequence)."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from salesplane_testing.kafka_broker import KafkaBroker, find_java

_BATCH = re.compile(
    r"baseOffset: (\d+) lastOffset: (\d+) count: (\d+) baseSequence: (-?\d+) lastSequence: (-?\d+)"
    r" producerId: (-?\d+) producerEpoch: (-?\d+)"
)


@dataclass(frozen=True)
class Batch:
    partition: str
    base_offset: int
    count: int
    base_sequence: int
    last_sequence: int
    producer_id: int


def batches(broker: KafkaBroker, topic: str) -> list[Batch]:
    """Every record batch of every partition of the topic (the full name, prefix included)."""
    assert broker.temp_dir is not None
    segments = sorted((broker.temp_dir / "data").glob(f"{topic}-*/*.log"))
    if not segments:
        return []
    libs = broker.ensure_jars()
    files = ",".join(str(s) for s in segments)
    dumped = subprocess.run(
        [find_java(), "-cp", str(Path(libs) / "*"), "kafka.tools.DumpLogSegments", "--files", files],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found: list[Batch] = []
    partition = ""
    for line in dumped.splitlines():
        if line.startswith("Dumping "):
            partition = Path(line.removeprefix("Dumping ")).parent.name
        elif match := _BATCH.match(line):
            base, _last, count, first_seq, last_seq, producer, _epoch = (int(g) for g in match.groups())
            found.append(Batch(partition, base, count, first_seq, last_seq, producer))
    return found


def sequence_problems(found: list[Batch]) -> list[str]:
    """Batches without a producer id, and producers whose sequence on a partition has a gap or a
    repeat."""
    problems = [
        f"{b.partition}@{b.base_offset}: no producer id (not idempotent)" for b in found if b.producer_id < 0
    ]
    runs: dict[tuple[str, int], list[Batch]] = defaultdict(list)
    for batch in found:
        if batch.producer_id >= 0:
            runs[(batch.partition, batch.producer_id)].append(batch)
    for (partition, producer), run in runs.items():
        expected = 0
        for batch in sorted(run, key=lambda b: b.base_offset):
            if batch.base_sequence != expected or batch.last_sequence != expected + batch.count - 1:
                problems.append(
                    f"{partition} producer {producer}: sequence {batch.base_sequence}, {expected} next"
                )
            expected = batch.last_sequence + 1
    return problems
