"""`salesplane-dead-letters`: list, show and replay a service's dead letters over its gRPC API.

    salesplane-dead-letters --target forecasting:50053 list [--topic T]
    salesplane-dead-letters --target forecasting:50053 show 42
    salesplane-dead-letters --target forecasting:50053 replay 42 43     (or: replay --all)

The bearer token (an administrator's) comes from SALESPLANE_TOKEN, never from the command line,
where it would land in the shell history and the process list."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import grpc

from salesplane.operations.v1 import dead_letters_pb2 as pb
from salesplane.operations.v1 import dead_letters_pb2_grpc as pb_grpc
from salesplane_platform.events import decode_envelope

EXIT_FAILED = 1
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="salesplane-dead-letters", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="the service's gRPC address, host:port")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the dead letters, oldest first")
    listing.add_argument("--topic", default="")
    show = commands.add_parser("show", help="one dead letter, with its event decoded")
    show.add_argument("id", type=int)
    replay = commands.add_parser("replay", help="apply dead letters again")
    replay.add_argument("ids", type=int, nargs="*")
    replay.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    token = os.environ.get("SALESPLANE_TOKEN", "")
    if not token:
        print("set SALESPLANE_TOKEN to an administrator's bearer token", file=sys.stderr)
        return EXIT_USAGE
    metadata = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(args.target) as channel:
        stub = pb_grpc.DeadLetterServiceStub(channel)
        try:
            if args.command == "list":
                return _list(stub, metadata, args.topic)
            if args.command == "show":
                return _show(stub.GetDeadLetter(pb.GetDeadLetterRequest(id=args.id), metadata=metadata))
            answer = stub.ReplayDeadLetters(
                pb.ReplayDeadLettersRequest(ids=args.ids, all=args.all), metadata=metadata
            )
        except grpc.RpcError as error:
            code = error.code().name if isinstance(error, grpc.Call) else "UNKNOWN"
            details = error.details() if isinstance(error, grpc.Call) else str(error)
            print(f"{code}: {details}", file=sys.stderr)
            return EXIT_FAILED
    failed = 0
    for outcome in answer.outcomes:
        result = pb.ReplayOutcome.Result.Name(outcome.result).lower()
        failed += outcome.result == pb.ReplayOutcome.FAILED
        print(json.dumps({"id": outcome.id, "result": result, "error": outcome.error or None}))
    return EXIT_FAILED if failed else 0


def _list(stub: pb_grpc.DeadLetterServiceStub, metadata: tuple[tuple[str, str], ...], topic: str) -> int:
    after = 0
    while True:
        page = stub.ListDeadLetters(pb.ListDeadLettersRequest(topic=topic, after_id=after), metadata=metadata)
        for letter in page.dead_letters:
            print(json.dumps(_summary(letter)))
        if not page.more or not page.dead_letters:
            return 0
        after = page.dead_letters[-1].id


def _show(letter: pb.DeadLetter) -> int:
    shown = _summary(letter)
    try:
        envelope = decode_envelope(letter.value)
        shown["event"] = {"payload_type": envelope.payload.type_url, "actor": envelope.actor}
    except Exception:
        shown["value_hex"] = letter.value[:4096].hex()
    print(json.dumps(shown, indent=2))
    return 0


def _summary(letter: pb.DeadLetter) -> dict[str, object]:
    return {
        "id": letter.id,
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "received_at": letter.received_at.ToJsonString(),
        "error": letter.error,
        "event_type": letter.event_type or None,
        "aggregate": f"{letter.aggregate_type}/{letter.aggregate_id}@{letter.aggregate_version}"
        if letter.aggregate_type
        else None,
    }


if __name__ == "__main__":
    sys.exit(main())
