"""Thousands of generated malformed requests to each service's gRPC API (issue 17): never a crash
status, and nothing written by a request the service refused.

Each service is reached as a client would reach it, over its real port, with every service it
serves (its own, the audit log, dead letters: as its server reflection lists them). What is
generated: malformed_grpc.py; how "nothing written" is checked cheaply: refusal_batches.py.
"""

from __future__ import annotations

import grpc
import pytest

from tests.fuzz.fuzz_run import fuzz_requests, fuzz_seed, record
from tests.fuzz.fuzz_stack import SECRET, SERVICES, FuzzStack, bearer
from tests.fuzz.grpc_sender import GrpcSender, served_services
from tests.fuzz.malformed_grpc import MalformedGrpcRequests
from tests.fuzz.refusal_batches import run_in_refusal_batches

pytestmark = pytest.mark.e2e


def callers(service: str) -> list[tuple[tuple[str, str], ...]]:
    """Valid callers, administrators most often, so that the flaws get past authorisation."""
    people = [("root", "admin"), ("root", "admin"), ("mgr", "manager"), ("rep-a", "rep"), ("vp", "manager")]
    if service == "leads":
        people.append(("mo", "marketing"))
    return [tuple(bearer(subject, role)) for subject, role in people]


@pytest.mark.parametrize("service", SERVICES)
def test_malformed_grpc_requests_never_crash_a_service_and_refused_ones_write_nothing(
    stack: FuzzStack, service: str
) -> None:
    total = fuzz_requests()
    with grpc.insecure_channel(stack.target(service)) as channel:
        generator = MalformedGrpcRequests(
            served_services(channel),
            pools=stack.pools[service],
            callers=callers(service),
            secret=SECRET,
            seed=fuzz_seed() + SERVICES.index(service),
        )
        tally = run_in_refusal_batches(
            f"gRPC {service}",
            draw=generator.draw,
            send=GrpcSender(channel),
            fingerprint=stack.fingerprint,
            total=total,
        )
    record(tally)

    assert tally.generated >= total
    assert not tally.violations, (
        f"{tally.violation_count} answers broke the rules (seed {fuzz_seed()}):\n"
        + "\n".join(tally.violations)
        + f"\nthe services' logs: {stack.log_dir}"
    )
    assert not tally.writes, "refused requests wrote:\n" + "\n".join(tally.writes)
    # The run proves something only if every RPC was called and the flaws got past
    # authentication to the validation.
    unreached = [
        m.name for m in generator.methods if not tally.by_target[f"{m.containing_service.name}.{m.name}"]
    ]
    assert not unreached, unreached
    assert tally.by_status["INVALID_ARGUMENT"] > total // 10, tally.by_status
