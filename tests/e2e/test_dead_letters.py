"""A poison record on a topic is set aside and the consumer goes on; an administrator lists it,
looks at it and replays it with `salesplane-dead-letters`, against a service on real Kafka."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from kafka import KafkaProducer

from salesplane.operations.v1 import dead_letters_pb2 as pb
from salesplane.operations.v1 import dead_letters_pb2_grpc as pb_grpc
from salesplane_platform.identity import issue_token
from tests.e2e.conftest import SECRET

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).parent / "salesplane-dead-letters")


def cli(target: str, *args: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--target", target, *args],
        env={**os.environ, "SALESPLANE_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_poison_record_is_set_aside_listed_and_replayed_by_an_administrator(
    services, kafka_broker, topic_prefix
) -> None:
    forecasting = services("forecasting")
    topic = f"{topic_prefix}salesplane.opportunities.v1"
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers, acks="all")
    producer.send(topic, key=b"poison", value=b"\x0a\xff not an envelope").get(timeout=30)
    producer.close()
    admin = issue_token(SECRET, "root", ["admin"])

    deadline = time.monotonic() + 60
    while True:
        listed = cli(forecasting.target, "list", "--topic", topic, token=admin)
        assert listed.returncode == 0, listed.stderr
        letters = [json.loads(line) for line in listed.stdout.splitlines()]
        if letters or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    (letter,) = letters
    assert letter["topic"] == topic and "not an EventEnvelope" in letter["error"]
    assert letter["event_type"] is None

    shown = json.loads(cli(forecasting.target, "show", str(letter["id"]), token=admin).stdout)
    assert shown["value_hex"].startswith("0aff")

    # Still not an envelope: the replay fails, says why, and keeps it.
    replayed = cli(forecasting.target, "replay", "--all", token=admin)
    assert replayed.returncode == 1
    (outcome,) = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert outcome["result"] == "failed" and "not an EventEnvelope" in outcome["error"]
    assert len(cli(forecasting.target, "list", token=admin).stdout.splitlines()) == 1

    # Dead letters are the organisation's data: a manager is refused, an unknown id is NOT_FOUND.
    refused = cli(forecasting.target, "list", token=issue_token(SECRET, "mia", ["manager"]))
    assert refused.returncode == 1 and refused.stderr.startswith("PERMISSION_DENIED")
    with grpc.insecure_channel(forecasting.target) as channel:
        stub = pb_grpc.DeadLetterServiceStub(channel)
        with pytest.raises(grpc.RpcError) as missing:
            stub.ReplayDeadLetters(
                pb.ReplayDeadLettersRequest(ids=[letter["id"] + 1000]),
                metadata=[("authorization", f"Bearer {admin}")],
            )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
