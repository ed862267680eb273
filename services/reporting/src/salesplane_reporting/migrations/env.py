from salesplane_platform.migrations import run_alembic_env

run_alembic_env()
