"""The console's Quota planning screen over the fake upstreams: the split with its sums (recomputed by
the server as one types, over-allocation said in words), a draft saved whole and a commit of what is
on screen, every amount read before any call, the service's refusals beside the right row, another
manager's plan view-only (or the service's 403), and the admin's "set a quota"."""

from __future__ import annotations

import re
from typing import Any

import grpc
from flask.testing import FlaskClient

from gateway.tests.test_console_pages import sign_in
from salesplane.common.v1.common_pb2 import Money
from salesplane.forecasting.v1 import quotas_pb2

FakeUpstreams = Any  # the conftest's fake (tests import no conftest)

DENIED = grpc.StatusCode.PERMISSION_DENIED.value[0]
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION.value[0]
ASSIGNED = quotas_pb2.QUOTA_KIND_ASSIGNED
DIRECT = quotas_pb2.QUOTA_KIND_DIRECT


def usd(amount_minor: int) -> Money:
    return Money(currency_code="USD", amount_minor=amount_minor)


def _plan(fake: FakeUpstreams, manager: str = "vp") -> None:
    fake.reply(
        "GetQuotaPlan",
        quotas_pb2.QuotaPlan(
            manager_user_id=manager,
            period_id="2026-Q4",
            quota=usd(100_000_000),
            allocations=[
                quotas_pb2.QuotaAllocation(
                    user_id="east", display_name="Edward East", kind=ASSIGNED, committed=usd(60_000_000)
                ),
                quotas_pb2.QuotaAllocation(
                    user_id="anna.nowak",
                    display_name="Anna Nowak",
                    kind=ASSIGNED,
                    committed=usd(20_000_000),
                    draft=usd(25_000_000),
                ),
                quotas_pb2.QuotaAllocation(user_id=manager, display_name="Vera Vice", kind=DIRECT),
            ],
            allocated=usd(85_000_000),
            unallocated=usd(15_000_000),
            has_draft=True,
        ),
    )


def _vp(client: FlaskClient, fake: FakeUpstreams) -> str:
    sign_in(client, fake, "vp")
    _plan(fake)
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/quota-plan").get_data(as_text=True))
    assert found
    return found.group(1)


def _invalid(html: str, field_id: str) -> bool:
    pattern = (
        rf'id="{re.escape(field_id)}"[^>]*aria-invalid="true" aria-describedby="{re.escape(field_id)}-error"'
    )
    return re.search(pattern, html) is not None


def test_the_plan_shows_the_split_with_the_draft_in_its_fields(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _vp(client, fake)

    answer = client.get("/quota-plan?period=2026-Q4")

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert re.search(r'id="plan-q-east"[^>]*value="600000.00"', html)
    assert re.search(r'id="plan-q-anna.nowak"[^>]*value="250000.00"', html)  # the draft, not the committed
    assert re.search(r'id="plan-direct"[^>]*value=""', html)
    assert "$1,000,000.00" in html and "$850,000.00" in html and "$150,000.00 is still to allocate" in html
    assert 'hx-trigger="input changed delay:300ms from:#plan-form"' in html
    assert 'hx-include="#plan-amounts"' in html
    assert "Save draft (only I see it)" in html and "Commit (they see it)" in html
    assert "Set a quota" not in html  # not an admin
    sent = fake.last("GetQuotaPlan")
    assert (sent.manager_user_id, sent.period_id) == ("vp", "2026-Q4")


def test_the_sums_follow_what_is_typed_and_say_over_allocated_in_words(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _vp(client, fake)

    answer = client.get(
        "/quota-plan/sums",
        query_string={
            "period": "2026-Q4",
            "manager": "vp",
            "q-east": "700 000",
            "q-anna.nowak": "",
            "direct": "x",
        },
        headers={"HX-Request": "true"},
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<html" not in html
    # 700,000 typed + Anna's committed 200,000 (her field is empty); "x" is not counted.
    assert "$900,000.00" in html and "$100,000.00 is still to allocate" in html
    assert "1 amount is not readable yet" in html
    over = client.get(
        "/quota-plan/sums", query_string={"period": "2026-Q4", "manager": "vp", "q-east": "900000.01"}
    ).get_data(as_text=True)
    assert "Over-allocated" in over and "$100,000.01 more than the quota" in over


def test_a_draft_is_saved_whole_from_the_typed_amounts(client: FlaskClient, fake: FakeUpstreams) -> None:
    csrf = _vp(client, fake)

    answer = client.post(
        "/quota-plan/draft",
        data={
            "csrf_token": csrf,
            "period": "2026-Q4",
            "manager": "vp",
            "q-east": "550000",
            "q-anna.nowak": "",
            "direct": "100 000,50",
            "q-stranger": "1",
        },
    )

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/quota-plan?period=2026-Q4&done=draft"
    sent = fake.last("SaveQuotaDraft")
    assert (sent.manager_user_id, sent.period_id) == ("vp", "2026-Q4")
    assert [(a.user_id, a.kind, a.amount.amount_minor, a.amount.currency_code) for a in sent.allocations] == [
        ("east", ASSIGNED, 55_000_000, "USD"),
        ("vp", DIRECT, 10_000_050, "USD"),
    ]
    assert fake.requests("CommitQuotaPlan") == []
    assert "Only you see it" in client.get(answer.headers["Location"]).get_data(as_text=True)


def test_a_commit_saves_what_is_on_screen_then_commits_it(client: FlaskClient, fake: FakeUpstreams) -> None:
    csrf = _vp(client, fake)

    answer = client.post(
        "/quota-plan/commit",
        data={
            "csrf_token": csrf,
            "period": "2026-Q4",
            "q-east": "600000",
            "q-anna.nowak": "250000",
            "direct": "0",
        },
    )

    assert answer.status_code == 303
    assert len(fake.last("SaveQuotaDraft").allocations) == 3
    sent = fake.last("CommitQuotaPlan")
    assert (sent.manager_user_id, sent.period_id) == ("vp", "2026-Q4")
    names = [name for name, _, _ in fake.calls if name in ("SaveQuotaDraft", "CommitQuotaPlan")]
    assert names == ["SaveQuotaDraft", "CommitQuotaPlan"]


def test_a_bad_amount_saves_nothing_and_is_marked_beside_its_row(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    csrf = _vp(client, fake)

    answer = client.post(
        "/quota-plan/commit",
        data={
            "csrf_token": csrf,
            "period": "2026-Q4",
            "q-east": "12.345",
            "q-anna.nowak": "-1",
            "direct": "5",
        },
    )

    assert answer.status_code == 422
    assert fake.requests("SaveQuotaDraft") == [] and fake.requests("CommitQuotaPlan") == []
    html = answer.get_data(as_text=True)
    assert _invalid(html, "plan-q-east") and _invalid(html, "plan-q-anna.nowak")
    assert not _invalid(html, "plan-direct")
    assert re.search(r'id="plan-q-east"[^>]*value="12.345"', html)  # what was typed stays


def test_the_services_refusal_lands_beside_the_row_it_names(client: FlaskClient, fake: FakeUpstreams) -> None:
    csrf = _vp(client, fake)
    fake.invalid(
        "SaveQuotaDraft", ("allocations[1].amount.amount_minor", "must be between 0 and 10 minor units")
    )

    answer = client.post(
        "/quota-plan/draft",
        data={"csrf_token": csrf, "period": "2026-Q4", "q-east": "1", "q-anna.nowak": "", "direct": "2"},
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    # The second allocation sent is the direct quota (Anna's empty field was not sent).
    assert _invalid(html, "plan-direct")
    assert 'id="plan-direct-error">must be between 0 and 10 minor units' in html


def test_a_failed_commit_says_the_split_is_only_a_draft(client: FlaskClient, fake: FakeUpstreams) -> None:
    csrf = _vp(client, fake)
    fake.fail("CommitQuotaPlan", PRECONDITION, "east no longer reports to vp")

    answer = client.post("/quota-plan/commit", data={"csrf_token": csrf, "period": "2026-Q4", "q-east": "1"})

    assert answer.status_code == 422
    assert "saved as a draft but not committed: east no longer reports to vp" in answer.get_data(as_text=True)


def test_another_managers_plan_is_view_only_or_the_services_refusal(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _vp(client, fake)
    _plan(fake, manager="east")

    answer = client.get("/quota-plan?period=2026-Q4&manager=east")

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert fake.last("GetQuotaPlan").manager_user_id == "east"
    assert 'id="plan-form"' not in html and "View only" in html and "$600,000.00" in html
    fake.fail("GetQuotaPlan", DENIED, "vp may not read the plan of ceo")
    refused = client.get("/quota-plan?period=2026-Q4&manager=ceo")
    assert refused.status_code == 403 and "may not read the plan of ceo" in refused.get_data(as_text=True)


def _admin(client: FlaskClient, fake: FakeUpstreams) -> str:
    sign_in(client, fake, "admin")
    _plan(fake, manager="admin")
    html = client.get("/quota-plan?period=2026-Q4").get_data(as_text=True)
    assert "Set a quota" in html and '<option value="vp">Vera Vice (vp)</option>' in html
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_an_admin_sets_the_vps_target(client: FlaskClient, fake: FakeUpstreams) -> None:
    csrf = _admin(client, fake)

    answer = client.post(
        "/quota-plan/set-quota",
        data={
            "csrf_token": csrf,
            "period": "2026-Q4",
            "set_user": "vp",
            "set_period": "2027-Q1",
            "set_amount": "1 000 000",
            "set_currency": "usd",
        },
    )

    assert answer.status_code == 303
    sent = fake.last("SetQuota")
    assert (sent.user_id, sent.period_id, sent.amount.currency_code, sent.amount.amount_minor) == (
        "vp",
        "2027-Q1",
        "USD",
        100_000_000,
    )


def test_a_bad_set_quota_form_calls_nothing_and_marks_each_field(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    csrf = _admin(client, fake)

    answer = client.post(
        "/quota-plan/set-quota",
        data={
            "csrf_token": csrf,
            "period": "2026-Q4",
            "set_user": "",
            "set_period": "Q1",
            "set_amount": "lots",
            "set_currency": "US",
        },
    )

    assert answer.status_code == 422
    assert fake.requests("SetQuota") == []
    html = answer.get_data(as_text=True)
    for name in ("set_user", "set_period", "set_amount", "set_currency"):
        assert re.search(rf'id="f-{name}"[^>]*aria-invalid="true"', html), name


def test_the_services_refusal_of_a_quota_is_shown_beside_its_field(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    csrf = _admin(client, fake)
    fake.invalid("SetQuota", ("amount.currency_code", "must be the base currency USD, got EUR"))

    answer = client.post(
        "/quota-plan/set-quota",
        data={
            "csrf_token": csrf,
            "period": "2026-Q4",
            "set_user": "vp",
            "set_period": "2026-Q4",
            "set_amount": "10",
            "set_currency": "EUR",
        },
    )

    assert answer.status_code == 422
    assert 'id="e-set_currency">must be the base currency USD, got EUR' in answer.get_data(as_text=True)
