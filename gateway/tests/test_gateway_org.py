"""Users and reporting lines through HTTP (OrgService, served by the forecasting service)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from salesplane.common.v1.common_pb2 import Date
from salesplane.forecasting.v1 import org_pb2

PROBLEM = "application/problem+json"


def user(**fields: Any) -> org_pb2.User:
    return org_pb2.User(**{"user_id": "bob", "display_name": "Bob", "roles": ["rep"], "version": 3, **fields})


def test_a_user_is_read_with_roles_as_a_list_and_its_etag(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("GetUser", user(manager_user_id="carol", active=True))

    response = client.get("/v1/users/bob", headers=bearer())

    assert response.status_code == 200
    assert response.headers["ETag"] == '"3"'
    body = response.get_json()
    assert (body["roles"], body["manager_user_id"], body["active"], body["update_time"]) == (
        ["rep"],
        "carol",
        True,
        None,
    )
    assert fake.last("GetUser").user_id == "bob"


def test_users_under_someone_are_listed(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply("ListUsers", org_pb2.ListUsersResponse(users=[user()]))

    response = client.get("/v1/users?root_user_id=carol&direct_only=true", headers=bearer("carol", "manager"))

    assert [u["user_id"] for u in response.get_json()["users"]] == ["bob"]
    assert fake.last("ListUsers") == org_pb2.ListUsersRequest(root_user_id="carol", direct_only=True)


def test_a_user_is_put_with_the_id_from_the_path_and_if_match_as_its_version(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("UpsertUser", user(version=4))

    response = client.put(
        "/v1/users/bob",
        json={
            "display_name": "Bob",
            "roles": ["rep", "marketing"],
            "manager_user_id": "carol",
            "active": True,
        },
        headers={**bearer("root", "admin"), "If-Match": '"3"'},
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"4"'
    assert fake.last("UpsertUser") == org_pb2.UpsertUserRequest(
        user=org_pb2.User(
            user_id="bob",
            display_name="Bob",
            roles=["rep", "marketing"],
            manager_user_id="carol",
            active=True,
        ),
        expected_version=3,
    )


def test_a_put_body_naming_another_user_is_a_400(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.put(
        "/v1/users/bob",
        json={"user_id": "mallory", "display_name": "Bob", "roles": ["rep"]},
        headers=bearer(),
    )

    assert response.status_code == 400
    assert response.get_json()["errors"] == [
        {"field": "user_id", "description": "disagrees with the URL path (user_id)"}
    ]
    assert fake.calls == []


def test_org_calls_go_to_the_org_upstream(make_client: Any, bearer: Any, free_target: str) -> None:
    client = make_client(org_target=free_target)

    users = client.get("/v1/users/bob", headers=bearer())
    rollup = client.get("/v1/rollups/alice?period=2026-Q4", headers=bearer())

    assert (users.status_code, users.mimetype) == (503, PROBLEM)
    assert rollup.status_code == 200


def test_a_change_of_manager_is_scheduled_with_a_date_in_the_query(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "UpsertUser",
        user(
            manager_user_id="carol",
            scheduled_manager_user_id="dave",
            scheduled_manager_date=Date(year=2026, month=10, day=1),
        ),
    )

    response = client.put(
        "/v1/users/bob?manager_effective_date=2026-10-01",
        json={"display_name": "Bob", "roles": ["rep"], "manager_user_id": "dave"},
        headers=bearer("root", "admin"),
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["manager_user_id"], body["scheduled_manager_user_id"], body["scheduled_manager_date"]) == (
        "carol",
        "dave",
        "2026-10-01",
    )
    assert fake.last("UpsertUser") == org_pb2.UpsertUserRequest(
        user=org_pb2.User(user_id="bob", display_name="Bob", roles=["rep"], manager_user_id="dave"),
        manager_effective_date=Date(year=2026, month=10, day=1),
    )


def test_a_user_without_a_schedule_shows_it_as_null(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply("GetUser", user())

    body = client.get("/v1/users/bob", headers=bearer()).get_json()

    assert (body["scheduled_manager_user_id"], body["scheduled_manager_date"]) == ("", None)


def test_a_malformed_effective_date_never_reaches_the_service(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.put(
        "/v1/users/bob?manager_effective_date=next-monday",
        json={"display_name": "Bob", "roles": ["rep"]},
        headers=bearer("root", "admin"),
    )

    assert response.status_code == 400
    assert response.get_json()["errors"] == [
        {"field": "manager_effective_date", "description": "must be a date formatted YYYY-MM-DD"}
    ]
    assert fake.calls == []


def test_a_deactivation_asks_for_the_open_work_to_go_to_the_manager_in_the_query(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("UpsertUser", user(manager_user_id="carol", active=False))

    response = client.put(
        "/v1/users/bob?reassign_open_work_to_manager=true",
        json={"display_name": "Bob", "roles": ["rep"], "manager_user_id": "carol", "active": False},
        headers=bearer("root", "admin"),
    )

    assert response.status_code == 200
    sent = fake.last("UpsertUser")
    assert (sent.reassign_open_work_to_manager, sent.user.active) == (True, False)
