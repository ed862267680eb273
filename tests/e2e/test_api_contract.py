"""The gateway keeps the contract its OpenAPI document states (issue 15): schemathesis generates requests
from /openapi.json, valid and invalid, and every check holds them to the document, for an admin and
for a rep, against the real services.

schemathesis runs as its command line does (`st run`, every phase but coverage, every check), with
MAX_EXAMPLES per operation and phase, a fixed seed and no example database, so a run takes a few
minutes and repeats itself.

What a schema-valid request may be answered with (positive_data_acceptance): 2xx; 403 (a rep on an
admin's operation, or on someone else's data); 404 (the id names nothing; the generator cannot know
which exist); 409 (it exists already, or a concurrent change won); 422 (the request is sound but the
state of the data refuses it: a closed deal, a manager without reports, no exchange rate).

Left out, each for a reason:
  - /auth/*: the browser sign-in answers with redirects to an identity provider this stack has not;
  - the coverage phase: schemathesis 4.32.5 fails inside its own coverage generator on this document
    (SystemError "AST constructor recursion depth mismatch" under Python 3.11);
  - the stateful phase: it chains responses into requests by the document's links and ignores the
    per-operation switch below, so it sends page tokens no list issued and bodies whose
    expected_version contradicts If-Match, which the gateway rightly refuses; the examples and
    fuzzing phases run every operation;
  - the literal placeholder query names `filter.<key>` and `param.<key>` are dropped from generated
    requests (api_contract_hooks.py): OpenAPI cannot name a family of parameters, so the document
    names one by its placeholder, which a client never sends as such."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from salesplane_platform.identity import issue_token
from tests.e2e.conftest import SECRET
from tests.e2e.story_helpers import HttpGateway, await_organisation

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 5
SEED = 15
ADMIN = "contract-admin"
REP = "contract-rep"
POSITIVE_STATUSES = ["2xx", "403", "404", "409", "422"]
# Operations whose schema-valid requests may still break a rule the document cannot state: one
# member against another, or a language of its own. positive_data_acceptance is off for exactly
# these (every other check still runs on them); the service answers such a request with a 400
# naming every broken rule.
UNSTATED_RULES = {
    "PUT /v1/forecast-settings": "ranges must cover 0..100 once, as many as the scheme has; one show_* set",
    "PUT /v1/inspection-settings": "default_coverage_needed_bp <= max_, bias_min_periods <= trailing_periods",
    "PUT /v1/sales-stages": "at least one open, one won and one lost stage; names unique",
    "POST /v1/leads:reassign-open": "to_user_id must differ from from_user_id",
    "POST /v1/opportunities:reassign-open": "to_user_id must differ from from_user_id",
    "POST /v1/campaigns": "end_date not before start_date",
    "POST /v1/campaigns/{campaign_id}:record-cost": "a cost is above 0 (the shared Money schema allows 0)",
    "POST /v1/leads/{lead_id}:change-status": "a reason is required for some target statuses only",
    "POST /v1/opportunities/{opportunity_id}:close": "a body's expected_version must agree with If-Match",
    "PATCH /v1/leads/{lead_id}": "a body's expected_version must agree with If-Match",
    "PATCH /v1/opportunities/{opportunity_id}": "a body's expected_version must agree with If-Match",
    "PATCH /v1/campaigns/{campaign_id}": "expected_version agrees with If-Match; budget not null",
    "PUT /v1/users/{user_id}": "a body's user_id must agree with the path",
    "GET /v1/opportunities": "page_token: one the list issued; close_date_to >= _from, max >= min",
    "GET /v1/risk-alerts": "a page_token is one the list issued (opaque)",
    "GET /v1/audit-entries": "before_time and before_entry_id both or neither",
    "GET /v1/reports/{report_id}": "as_of: a date, a timestamp or a relative date; only some sources",
    "GET /v1/reports/{report_id}/export": "as_of: a date, a timestamp or a relative date; only some sources",
    "POST /v1/reports": "the definition is reporting's own language (docs/reporting.md)",
    "PUT /v1/reports/{report_id}": "the definition is reporting's own language (docs/reporting.md)",
    "POST /v1/reports:run": "a report_id or a definition, in reporting's own language",
    "POST /v1/reports:export": "a report_id or a definition, in reporting's own language",
    "POST /v1/reports/{report_id}/schedules": "weekday / day_of_month by frequency; IANA time zone names",
    "POST /v1/leads:import": "the CSV body needs a header line naming known columns and data lines",
    "POST /v1/leads/{lead_id}/touches": "a touch_time not in the future (no schema can say 'now')",
    "POST /v1/leads": "its touches' touch_time not in the future (no schema can say 'now')",
}


def _config(token: str) -> str:
    """schemathesis.toml of one run: every check, a bounded, repeatable generation."""
    statuses = ", ".join(f'"{status}"' for status in POSITIVE_STATUSES)
    return f"""
seed = {SEED}
hooks = "tests.e2e.api_contract_hooks"
headers = {{ Authorization = "Bearer {token}" }}

[generation]
max-examples = {MAX_EXAMPLES}
database = "none"
deterministic = true

[phases.coverage]
enabled = false

[checks]
enabled = true

[checks.positive_data_acceptance]
expected-statuses = [{statuses}]
""" + "".join(
        f"""
# {reason}
[[operations]]
include-name = "{name}"
checks.positive_data_acceptance.enabled = false
"""
        for name, reason in UNSTATED_RULES.items()
    )


def _run_schemathesis(base: str, subject: str, roles: list[str], tmp_path: Path) -> str:
    config = tmp_path / f"schemathesis-{subject}.toml"
    config.write_text(_config(issue_token(SECRET, subject, roles)))
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(config),
        "run",
        f"{base}/openapi.json",
        "--exclude-path-regex",
        "^/auth/",
        "--phases",
        "examples,fuzzing",
        "--workers",
        "2",
        "--no-color",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    report = tmp_path / f"schemathesis-{subject}.txt"  # the whole report; the assertion shows its end
    report.write_text(result.stdout + result.stderr)
    print(f"\n{subject}: {time.monotonic() - started:.0f} s, report in {report}\n{summary}")
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
    return summary


def test_the_gateway_keeps_its_documented_contract_for_an_admin_and_a_rep(services, gateway, tmp_path):
    leads = services("leads")
    opportunities = services("opportunities")
    forecasting = services("forecasting")
    reporting = services("reporting")
    base = gateway(
        {
            "SALESPLANE_LEADS_TARGET": leads.target,
            "SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target,
            "SALESPLANE_FORECASTING_TARGET": forecasting.target,
            "SALESPLANE_REPORTING_TARGET": reporting.target,
        }
    )
    http = HttpGateway(base, lambda user: issue_token(SECRET, user, ["admin"]))
    http.ok("PUT", f"/v1/users/{ADMIN}", ADMIN, {"display_name": "Admin", "roles": ["admin"], "active": True})
    http.ok(
        "PUT",
        f"/v1/users/{REP}",
        ADMIN,
        {"display_name": "Rep", "roles": ["rep"], "manager_user_id": ADMIN, "active": True},
    )
    for service in (leads, opportunities):
        await_organisation(service.env["SALESPLANE_DATABASE_URL"], [ADMIN, REP])
    failures = []
    for subject, roles in ((ADMIN, ["admin"]), (REP, ["rep"])):
        try:
            _run_schemathesis(base, subject, roles, tmp_path)
        except AssertionError as error:
            failures.append(f"--- {subject} ---\n{error}")
    assert not failures, "\n".join(failures)
