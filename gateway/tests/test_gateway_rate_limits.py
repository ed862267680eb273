"""Per-caller rate limits: token buckets by verified subject, else by client address; 429 problems."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask.testing import FlaskClient

from salesplane_gateway.rate_limits import RATE_LIMITS_KEY
from salesplane_gateway.token_buckets import TokenBuckets

PROBLEM = "application/problem+json"
API = "/v1/sales-stages"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(make_client: Any, clock: FakeClock) -> Any:
    """limited(per_second, burst, **config) -> a client whose rate limit runs on the fake clock."""

    def make(per_second: float = 0.5, burst: int = 2, **overrides: Any) -> FlaskClient:
        client: FlaskClient = make_client(
            rate_limit_per_second=per_second, rate_limit_burst=burst, **overrides
        )
        client.application.extensions[RATE_LIMITS_KEY] = TokenBuckets(per_second, burst, clock=clock)
        return client

    return make


def from_address(address: str) -> dict[str, Any]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_rate_limited(response: Any, retry_after: str) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert response.headers["Retry-After"] == retry_after
    body = response.get_json()
    assert body["type"] == "https://salesplane.dev/problems/rate-limited"
    assert body["status"] == 429 and body["title"] == "Too many requests"


# -- by caller ------------------------------------------------------------------------------------


def test_a_caller_past_the_burst_gets_429_with_retry_after_and_a_problem(
    limited: Any, bearer: Any, fake: Any
) -> None:
    client = limited(per_second=0.5, burst=2)

    answers = [client.get(API, headers=bearer("alice")) for _ in range(3)]

    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_rate_limited(answers[2], retry_after="2")  # one token every 2 s
    assert answers[2].headers["X-Request-Id"]
    assert len(fake.requests("ListSalesStages")) == 2  # the refused call never reached a service


def test_another_caller_keeps_their_own_bucket(limited: Any, bearer: Any) -> None:
    client = limited(burst=1)
    assert client.get(API, headers=bearer("alice")).status_code == 200
    assert client.get(API, headers=bearer("alice")).status_code == 429

    assert client.get(API, headers=bearer("bob")).status_code == 200


def test_callers_behind_one_address_are_limited_apart(limited: Any, bearer: Any) -> None:
    client = limited(burst=1)
    office = from_address("203.0.113.9")
    assert client.get(API, headers=bearer("alice"), **office).status_code == 200
    assert client.get(API, headers=bearer("alice"), **office).status_code == 429

    assert client.get(API, headers=bearer("bob"), **office).status_code == 200


def test_new_tokens_of_the_same_user_share_the_users_bucket(limited: Any, make_token: Any) -> None:
    client = limited(burst=2)
    tokens = [make_token("alice", "rep"), make_token("alice", "manager"), make_token("alice", "rep")]

    answers = [client.get(API, headers={"Authorization": f"Bearer {t}"}) for t in tokens]

    assert [a.status_code for a in answers] == [200, 200, 429]


def test_the_bucket_refills_at_the_sustained_rate(limited: Any, bearer: Any, clock: FakeClock) -> None:
    client = limited(per_second=0.5, burst=2)
    for _ in range(2):
        assert client.get(API, headers=bearer()).status_code == 200
    assert_rate_limited(client.get(API, headers=bearer()), retry_after="2")

    clock.advance(1.5)
    assert_rate_limited(client.get(API, headers=bearer()), retry_after="1")
    clock.advance(0.5)
    assert client.get(API, headers=bearer()).status_code == 200
    assert client.get(API, headers=bearer()).status_code == 429

    clock.advance(60)  # a long pause refills the burst, no more
    assert [client.get(API, headers=bearer()).status_code for _ in range(3)] == [200, 200, 429]


# -- exemptions and switching off -----------------------------------------------------------------


def test_probes_and_the_contract_are_never_limited(limited: Any, bearer: Any) -> None:
    client = limited(burst=1)

    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/openapi.json").status_code == 200

    assert client.get("/does-not-exist").status_code == 404  # the address's one token is still there
    assert client.get(API, headers=bearer()).status_code == 200


@pytest.mark.parametrize("limit", [{"rate_limit_per_second": 0}, {"rate_limit_burst": 0}])
def test_a_limit_of_zero_turns_it_off(make_client: Any, bearer: Any, limit: dict[str, Any]) -> None:
    client = make_client(**limit)

    assert {client.get(API, headers=bearer()).status_code for _ in range(60)} == {200}
    assert RATE_LIMITS_KEY not in client.application.extensions


def test_the_default_limit_is_on(make_client: Any) -> None:
    buckets = make_client().application.extensions[RATE_LIMITS_KEY]

    assert (buckets.per_second, buckets.burst) == (20.0, 40)


# -- anonymous callers ----------------------------------------------------------------------------


def test_requests_without_credentials_are_limited_by_client_address(limited: Any) -> None:
    client = limited(burst=2)
    here, there = from_address("198.51.100.7"), from_address("198.51.100.8")

    assert [client.get("/nope", **here).status_code for _ in range(2)] == [404, 404]
    assert_rate_limited(client.get(API, **here), retry_after="2")

    assert client.get("/nope", **there).status_code == 404


def test_guessing_tokens_is_limited_by_address_without_touching_valid_callers(
    limited: Any, bearer: Any, make_token: Any
) -> None:
    client = limited(burst=2)
    here = from_address("198.51.100.7")
    forged = {"Authorization": f"Bearer {make_token('root', 'admin', secret='x' * 40)}"}

    assert [client.get(API, headers=forged, **here).status_code for _ in range(2)] == [401, 401]
    assert_rate_limited(client.get(API, headers=forged, **here), retry_after="2")

    assert client.get(API, headers=bearer("alice"), **here).status_code == 200


def test_an_ipv6_caller_is_one_caller_across_its_64(limited: Any) -> None:
    client = limited(burst=1)

    assert client.get("/nope", **from_address("2001:db8:1:2::1")).status_code == 404
    assert client.get("/nope", **from_address("2001:db8:1:2::ffff")).status_code == 429
    assert client.get("/nope", **from_address("2001:db8:1:3::1")).status_code == 404


def test_x_forwarded_for_names_the_caller_only_behind_trusted_proxies(limited: Any) -> None:
    proxied = limited(burst=1, trusted_proxies=1)
    ingress = from_address("10.0.0.2")
    # The right-most entry is the one the ingress added; anything left of it the client wrote.
    first = {"X-Forwarded-For": "1.2.3.4, 198.51.100.7"}
    second = {"X-Forwarded-For": "1.2.3.4, 198.51.100.8"}
    spoofed = {"X-Forwarded-For": "9.9.9.9, 198.51.100.7"}

    assert proxied.get("/nope", headers=first, **ingress).status_code == 404
    assert proxied.get("/nope", headers=second, **ingress).status_code == 404
    assert proxied.get("/nope", headers=spoofed, **ingress).status_code == 429

    direct = limited(burst=1)
    assert direct.get("/nope", headers=first, **ingress).status_code == 404
    assert direct.get("/nope", headers=second, **ingress).status_code == 429  # the header is ignored


def test_a_429_carries_the_security_headers_and_the_cors_grant(limited: Any, bearer: Any) -> None:
    client = limited(burst=1, cors_origins=("https://app.example.com",))
    headers = {**bearer(), "Origin": "https://app.example.com"}
    client.get(API, headers=headers)

    refused = client.get(API, headers=headers)

    assert refused.status_code == 429
    assert refused.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    assert refused.headers["Cache-Control"] == "no-store"


# -- the buckets ----------------------------------------------------------------------------------


def test_an_idle_callers_bucket_is_forgotten_once_it_would_be_full(clock: FakeClock) -> None:
    buckets = TokenBuckets(per_second=1.0, burst=5, clock=clock)
    for caller in ("a", "b", "c"):
        buckets.take(caller)
    assert len(buckets) == 3

    clock.advance(4.9)
    buckets.take("d")
    assert len(buckets) == 4
    clock.advance(0.1)  # a, b, c: full again after 5 s
    buckets.take("d")
    assert len(buckets) == 1


def test_the_number_of_callers_tracked_is_capped(clock: FakeClock) -> None:
    buckets = TokenBuckets(per_second=1.0, burst=1, clock=clock, max_callers=100)

    for index in range(1_000):
        buckets.take(f"caller-{index}")

    assert len(buckets) == 100
    assert buckets.take("caller-999") > 0  # the most recent callers keep their buckets


def test_concurrent_takes_never_hand_out_more_than_the_burst(clock: FakeClock) -> None:
    buckets = TokenBuckets(per_second=1.0, burst=100, clock=clock)
    granted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(50):
            taken = buckets.take("alice") == 0.0
            with lock:
                granted.append(taken)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 400 and granted.count(True) == 100


@pytest.mark.parametrize("arguments", [(0.0, 1), (-1.0, 1), (float("nan"), 1), (float("inf"), 1), (1.0, 0)])
def test_buckets_refuse_a_rate_or_burst_that_means_nothing(arguments: tuple[float, int]) -> None:
    with pytest.raises(ValueError):
        TokenBuckets(*arguments)
