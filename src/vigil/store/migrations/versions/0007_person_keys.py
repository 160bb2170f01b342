"""Person keys: one integer per subject id, so analytics group and count persons on integers.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    # persons maps each subject id with a session to its key (assigned once, never reused);
    # sessions.person_key repeats it. Subject ids without a key get the next free keys in
    # subject id order. IF NOT EXISTS and the NOT EXISTS: see 0005 (a store taken back to
    # an older revision keeps its persons).
    op.execute(
        """CREATE TABLE IF NOT EXISTS persons (
            subject_id VARCHAR PRIMARY KEY,
            person_key BIGINT NOT NULL UNIQUE
        )"""
    )
    op.execute("ALTER TABLE sessions ADD COLUMN IF NOT EXISTS person_key BIGINT")
    op.execute(
        """INSERT INTO persons (subject_id, person_key)
           SELECT subject_id, (SELECT coalesce(max(person_key), 0) FROM persons)
                              + row_number() OVER (ORDER BY subject_id)
           FROM (SELECT DISTINCT subject_id FROM sessions s
                 WHERE NOT EXISTS (SELECT 1 FROM persons p
                                   WHERE p.subject_id = s.subject_id)) found"""
    )
    op.execute(
        """UPDATE sessions SET person_key = p.person_key FROM persons p
           WHERE p.subject_id = sessions.subject_id"""
    )
