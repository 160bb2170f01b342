"""Versioned schema migrations (hand-written Alembic revisions)."""
