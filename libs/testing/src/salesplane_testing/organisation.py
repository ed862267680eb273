"""The organisation as a service's replica would hold it, for the tests of one service without
forecasting running: the users written into its replica table (`org_reporting_lines`) as their
UserChanged events would have. Version 0, so any real event for the same user supersedes them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import create_engine, text

# The users the services' tests act as and give deals and leads to.
TEST_USERS = (
    "alice",
    "bob",
    "carol",
    "dan",
    "eve",
    "lee",
    "mia",
    "root",
    "ann",
    "rep",
    "zed",
    "rep0",
    "rep1",
    "rep2",
)


def seed_members(database_url: str, users: Iterable[str] = TEST_USERS, *, roles: str = "rep") -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            for user_id in users:
                connection.execute(text("DELETE FROM org_reporting_lines WHERE user_id = :u"), {"u": user_id})
                connection.execute(
                    text(
                        "INSERT INTO org_reporting_lines"
                        " (user_id, manager_user_id, active, version, roles, email)"
                        " VALUES (:u, NULL, :active, 0, :roles, '')"
                    ),
                    {"u": user_id, "active": True, "roles": roles},
                )
    finally:
        engine.dispose()
