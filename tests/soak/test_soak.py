"""A soak: the mixed load of the fault suite, harder (RATES), on the whole system with no fault,
for SALESPLANE_SOAK_SECONDS (SHORT_FORM_S in `make test`; `make soak` runs ten minutes). Every
INTERVAL_S it prints the calls answered a second by kind, the p50/p95/p99 latency of writes and of
reads, the RSS of every process (each service, the gateway, the Kafka broker, PostgreSQL with its
backends) and the consumer lag of every group; the run's tables go to the end of the session and,
as JSON, to build/test-artefacts/soak (or $SALESPLANE_TEST_ARTEFACTS/soak).

What must hold:
- no error: with nothing failing, every call succeeds (not even a retryable refusal), no process
  restarts, and afterwards every derived state equals its oracle and no acknowledged write is lost;
- memory (memory_bound.py): after a warm-up of the first 20% of the run, no service and not the
  gateway grows by more than max(25 MiB, 15%) of its RSS at the first sample after it, and over the
  second half of that window by no more than half its first half's growth plus 8 MiB (a leak keeps
  growing at the load's rate, a cache levels off). The broker and PostgreSQL are printed, not
  bound: their memory is capped by their own settings. The JVM grows towards its -Xmx; every
  backend's VmRSS counts the shared buffers it touched, and its own memory (the "anon" figure)
  grows while its catalog caches and the local buffers of the bulk writes' temporary staging
  tables fill, up to temp_buffers each, and with the backends the pools open under load.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.faults.full_stack import FullStack
from tests.faults.mixed_load import MixedLoad
from tests.soak.memory_bound import growth, memory_problems
from tests.soak.soak_samples import FINISHED, Sampler, figures, write_figures

pytestmark = pytest.mark.e2e

# The short form's load: with the stack's start (half a minute to a minute on a busy machine) and
# its stop, about two minutes.
SHORT_FORM_S = 40.0
SOAK_SECONDS = float(os.environ.get("SALESPLANE_SOAK_SECONDS", SHORT_FORM_S))
# Eight samples in the short form (six after its warm-up); one every ten seconds in the long one.
INTERVAL_S = 5.0 if SOAK_SECONDS < 300 else 10.0
# Calls a second each part aims at: about twice the fault tests' load.
RATES = {"deal_rate": 40.0, "lead_rate": 10.0, "org_rate": 3.0, "report_rate": 2.0, "read_rate": 20.0}


# The suite's timeout (600 s, the stack's start included) is shorter than the long form.
@pytest.mark.timeout(SOAK_SECONDS + 600)
def test_a_soak_of_mixed_load_answers_every_call_and_keeps_memory_bounded(
    full_stack: FullStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert full_stack.gateway is not None
    load = MixedLoad(
        {name: handle.target for name, handle in full_stack.services.items()},
        full_stack.gateway.base_url,
        seed=71,
        **RATES,
    )
    # The stack's recovery checks find every write this load was told succeeded.
    full_stack.loads.append(load)
    with load:
        sampler = Sampler(full_stack, load)
        due = sampler.began
        while (due := due + INTERVAL_S) <= sampler.began + SOAK_SECONDS + 0.5:
            time.sleep(max(0.0, due - time.monotonic()))
            line = sampler.sample().line()
            with capsys.disabled():  # live, also without -s: a ten-minute run shows it is alive
                print(f"\n{line}", end="", flush=True)
    stopped = time.monotonic()

    python = sampler.python_processes()
    series = sampler.rss_series(python)
    bound = {name: growth(samples, SOAK_SECONDS) for name, samples in series.items()}
    run = figures(
        sampler,
        seconds=SOAK_SECONDS,
        interval_s=INTERVAL_S,
        rates=RATES,
        memory_bound={name: None if g is None else g.figures() for name, g in bound.items()},
        memory_problems=memory_problems(series, SOAK_SECONDS),
    )
    FINISHED.append(run)
    written = write_figures(run)
    run["recovery_s"] = round(full_stack.wait_recovered(stopped), 1)
    write_figures(run)
    with capsys.disabled():
        print(f"\nsoak figures in {written}", flush=True)

    assert not load.refused(), f"with no fault every call should succeed; refused: {dict(load.refused())}"
    assert not sampler.restarted(), f"processes restarted or gone: {sampler.restarted()}"
    assert not full_stack.lost_writes(load.ledger), "acknowledged deal writes are missing"
    assert full_stack.doubled_counts() == 0, "a rollup counts a deal twice"
    assert not run["memory_problems"], "memory grew past its bound:\n" + "\n".join(run["memory_problems"])
    # The load did everything it is meant to, every part of it.
    done = load.acknowledged()
    assert load.leads.converted and load.org.versions and load.reports.saved, done
    assert all(done[kind] for kind in ("create", "update", "GET /v1/rollups", "POST /v1/reports:run")), done
