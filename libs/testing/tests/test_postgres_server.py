"""The test PostgreSQL server is a real server: a fresh database per test, usable through SQLAlchemy."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from salesplane_testing.postgres_server import PostgresServer, unique_database_name


@pytest.mark.integration
def test_create_table_and_read_back(postgres_database_url):
    assert postgres_database_url.startswith("postgresql+psycopg://")
    engine = create_engine(postgres_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("CREATE TABLE leads (id serial PRIMARY KEY, name text NOT NULL, score numeric)")
            )
            conn.execute(
                text("INSERT INTO leads (name, score) VALUES (:name, :score)"),
                [{"name": "Ada", "score": 9.5}, {"name": "Grace", "score": 8}],
            )
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, score FROM leads ORDER BY id")).all()
            encoding = conn.execute(text("SHOW server_encoding")).scalar_one()
    finally:
        engine.dispose()
    assert [(r.name, float(r.score)) for r in rows] == [("Ada", 9.5), ("Grace", 8.0)]
    assert encoding == "UTF8"


@pytest.mark.integration
def test_each_test_gets_an_empty_database(postgres_database_url):
    engine = create_engine(postgres_database_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert tables == 0


@pytest.mark.integration
def test_server_urls(postgres_server):
    url = postgres_server.create_database()
    try:
        assert url.startswith("postgresql+psycopg://")
        if isinstance(postgres_server, PostgresServer):
            assert url.startswith(f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/t_")
            assert postgres_server.running
    finally:
        postgres_server.drop_database(url.rsplit("/", 1)[1])


def test_unique_database_names():
    name = unique_database_name("test_something[param-1]")
    assert name.startswith("t_test_something_param_1_")
    assert len(name) <= 63
    assert name != unique_database_name("test_something[param-1]")
