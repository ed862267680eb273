"""Thousands of generated malformed HTTP requests to the gateway (issue 17): never a 5xx, and
nothing written by a request it refused, in any service's database.

The gateway runs as in production (waitress) in front of the four real services. What is
generated: malformed_http.py, from the gateway's own /openapi.json; how "nothing written" is
checked cheaply: refusal_batches.py.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.fuzz.fuzz_run import fuzz_requests, fuzz_seed, record
from tests.fuzz.fuzz_stack import SECRET, FuzzStack, bearer
from tests.fuzz.http_sender import HttpSender
from tests.fuzz.malformed_http import MalformedHttpRequests
from tests.fuzz.refusal_batches import run_in_refusal_batches
from tests.fuzz.seed_records import QUARTER, USERS

pytestmark = pytest.mark.e2e


def real_ids(stack: FuzzStack) -> dict[str, list[str]]:
    """Path and query values that name records the services hold."""
    reporting = stack.pools["reporting"]
    return {
        "opportunity_id": stack.pools["opportunities"].ids,
        "lead_id": stack.pools["leads"].ids,
        "campaign_id": stack.pools["leads"].ids,
        "lead_source_id": stack.pools["leads"].ids,
        "report_id": reporting.by_field["report_id"],
        "schedule_id": reporting.ids,
        "user_id": USERS,
        "manager_user_id": ["vp", "mgr"],
        "period_id": [QUARTER, "2026-11"],
        "currency_code": ["EUR", "USD"],
        "effective_from": ["2026-01-01"],
    }


def test_malformed_http_requests_never_get_a_5xx_and_refused_ones_write_nothing(stack: FuzzStack) -> None:
    total = fuzz_requests()
    with urllib.request.urlopen(f"{stack.gateway_url}/openapi.json", timeout=30) as response:
        document = json.load(response)
    tokens = [
        bearer(subject, role)[0][1].removeprefix("Bearer ")
        for subject, role in [("root", "admin"), ("root", "admin"), ("mgr", "manager"), ("rep-a", "rep")]
    ]
    generator = MalformedHttpRequests(
        document, ids=real_ids(stack), tokens=tokens, secret=SECRET, seed=fuzz_seed() + 100
    )
    sender = HttpSender(stack.gateway_url)
    try:
        tally = run_in_refusal_batches(
            "HTTP gateway", draw=generator.draw, send=sender, fingerprint=stack.fingerprint, total=total
        )
    finally:
        sender.close()
    record(tally)

    assert tally.generated >= total
    assert not tally.violations, (
        f"{tally.violation_count} answers broke the rules (seed {fuzz_seed()}):\n"
        + "\n".join(tally.violations)
        + f"\nthe gateway's and services' logs: {stack.log_dir}"
    )
    assert not tally.writes, "refused requests wrote:\n" + "\n".join(tally.writes)
    # The run proves something only if every operation was called and the flaws got past
    # authentication to the validation.
    unreached = [op.name for op in generator.operations if not tally.by_target[op.name]]
    assert not unreached, unreached
    assert tally.by_status["400"] > total // 10, tally.by_status
