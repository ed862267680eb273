import pytest

from salesplane_platform.errors import Unauthenticated
from salesplane_platform.identity import TokenVerifier, issue_token
from salesplane_platform.money import Money, is_currency, round_half_up_div

SECRET = "unit-test-secret-of-thirty-two-bytes!"


def test_money_refuses_unknown_currencies_and_mixing_currencies():
    assert is_currency("EUR") and is_currency("JPY") and not is_currency("XXX") and not is_currency("eur")
    with pytest.raises(ValueError):
        Money("ABC", 1)
    with pytest.raises(ValueError):
        Money("EUR", 1) + Money("USD", 1)
    assert Money("EUR", 150) + Money("EUR", 50) == Money("EUR", 200)


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        Money("EUR", 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(1000010, 100, 10000), (1000050, 100, 10001), (-1000050, 100, -10001), (49, 100, 0), (50, 100, 1)],
)
def test_weighted_amounts_round_half_away_from_zero(numerator, denominator, expected):
    assert round_half_up_div(numerator, denominator) == expected


def test_a_signed_token_round_trips_to_an_identity():
    identity = TokenVerifier(SECRET).verify_header("Bearer " + issue_token(SECRET, "alice", ["rep", "bogus"]))
    assert identity.subject == "alice"
    assert identity.roles == frozenset({"rep"})
    assert not identity.is_admin


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic abc",
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer " + issue_token("another-secret-32-bytes-long!!!", "a", []),
    ],
)
def test_missing_malformed_or_foreign_tokens_are_unauthenticated(header):
    with pytest.raises(Unauthenticated):
        TokenVerifier(SECRET).verify_header(header)


def test_expired_tokens_are_unauthenticated():
    with pytest.raises(Unauthenticated):
        TokenVerifier(SECRET).verify(issue_token(SECRET, "alice", ["rep"], ttl_seconds=-10))


def test_only_canonical_lower_case_uuids_are_ids():
    from salesplane_platform.identifiers import is_user_id, is_uuid, new_id

    fresh = new_id()
    assert is_uuid(fresh) and not is_uuid(fresh.upper()) and not is_uuid("42") and not is_uuid("")
    assert is_user_id("alice.smith@acme") and not is_user_id("-alice") and not is_user_id("a b")
