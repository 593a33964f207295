"""Alembic environment: run with the connection tdm1core.storage.store passes in (no alembic.ini needed)."""
from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when alembic is run by hand
    from sqlalchemy import create_engine

    connection = create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite://").connect()
from tdm1core.storage.schema import metadata  # noqa: E402  the tables the migrations must produce (tests/test_schema.py)

context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
