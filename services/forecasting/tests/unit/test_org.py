"""The sales organisation's rules: valid users, no cycles, versions only on real changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salesplane_forecasting.domain import org
from salesplane_forecasting.domain.org import UserValues
from salesplane_platform.errors import FailedPrecondition, InvalidArgument

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def values(**overrides: object) -> UserValues:
    base = dict(
        user_id="ann",
        display_name="Ann",
        email="ann@example.com",
        roles=frozenset({"rep"}),
        manager_user_id="vp",
        active=True,
    )
    base.update(overrides)
    return UserValues(**base)  # type: ignore[arg-type]


def test_valid_user_passes():
    org.validate(values())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"user_id": ""}, "user.user_id"),
        ({"user_id": "has space"}, "user.user_id"),
        ({"display_name": "  "}, "user.display_name"),
        ({"email": "not-an-email"}, "user.email"),
        ({"roles": frozenset({"wizard"})}, "user.roles"),
        ({"roles": frozenset()}, "user.roles"),
        ({"manager_user_id": "ann"}, "user.manager_user_id"),
        ({"manager_user_id": "bad id"}, "user.manager_user_id"),
    ],
)
def test_invalid_users_are_rejected_with_the_field(overrides, field):
    with pytest.raises(InvalidArgument) as error:
        org.validate(values(**overrides))
    assert field in {v.field for v in error.value.violations}


def test_a_reports_to_line_that_closes_a_loop_is_rejected():
    managers = {"vp": None, "m1": "vp", "r1": "m1"}
    # vp would report to r1, who is under vp.
    with pytest.raises(FailedPrecondition) as error:
        org.ensure_no_cycle("vp", "r1", managers.get)
    assert "vp -> r1 -> m1 -> vp" in error.value.message
    org.ensure_no_cycle("r2", "r1", managers.get)
    org.ensure_no_cycle("m1", None, managers.get)


def test_apply_versions_only_real_changes():
    created = org.apply(None, values(), NOW)
    assert created is not None and created.version == 1 and created.email == "ann@example.com"
    assert org.apply(created, values(), NOW) is None
    moved = org.apply(created, values(manager_user_id="m2"), NOW)
    assert moved is not None and moved.version == 2 and moved.manager_user_id == "m2"
