"""Apply the Alembic migrations to a database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MIGRATIONS_DIR = Path(__file__).resolve().parent
# The newest revision in versions/; a test checks it against Alembic's own view.
HEAD_REVISION = "0008"
# PostgreSQL advisory lock held while migrating, so concurrent starts migrate once.
MIGRATION_LOCK_KEY = 0x5649_4749_4C00


class DatabaseLockedError(RuntimeError):
    """Another process holds the database (DuckDB allows one writer per file)."""


def head_revision() -> str | None:
    """The newest revision according to Alembic's script directory."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def alembic_config() -> Any:
    """An Alembic config pointing at the packaged revisions."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(sqlalchemy_url: str) -> str | None:
    """Bring the schema to the newest revision; returns the revision now in force.

    Alembic and SQLAlchemy are imported here, not at module level, so that commands which
    never open a store start quickly.
    """
    import sqlalchemy as sa
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = sa.create_engine(sqlalchemy_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # workers starting together wait here
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK_KEY})
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
        with engine.connect() as connection:
            revision: str | None = MigrationContext.configure(connection).get_current_revision()
            return revision
    except sa.exc.OperationalError as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLockedError(str(exc.orig)) from exc
        raise
    finally:
        engine.dispose()
