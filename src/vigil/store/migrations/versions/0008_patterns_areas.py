"""Detected behaviour patterns, and an area (room) per source.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    # sources.area: the room or area a source (camera, Home Assistant entity) is in, set by
    # a mapping file or PUT /api/v1/cameras/{id}; pattern detectors use it before the
    # event's own zone. patterns: the latest detection, one row per pattern; entities and
    # evidence are JSON text so both engines read them the same way. IF NOT EXISTS: see
    # 0005.
    op.execute("ALTER TABLE sources ADD COLUMN IF NOT EXISTS area VARCHAR")
    op.execute(
        """CREATE TABLE IF NOT EXISTS patterns (
            pattern_id VARCHAR PRIMARY KEY,
            type VARCHAR NOT NULL,
            entities VARCHAR NOT NULL,
            confidence DOUBLE PRECISION NOT NULL,
            description VARCHAR NOT NULL,
            evidence VARCHAR NOT NULL,
            first_seen DATE NOT NULL,
            last_seen DATE NOT NULL,
            window_end DATE NOT NULL,
            detected_at TIMESTAMPTZ NOT NULL
        )"""
    )
