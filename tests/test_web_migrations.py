"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from web import db
from web.models import Base


def test_migrations_match_the_models(database_url: str) -> None:
    db.upgrade(database_url)
    db.upgrade(database_url)  # idempotent: a second start changes nothing
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], differences
