"""API keys: creation, hashing and scopes. Only the SHA-256 of a key is stored."""

from __future__ import annotations

import hashlib
import secrets

SCOPES = ("read", "ingest", "admin")
# What each scope may do: admin may do everything, ingest may also read.
GRANTS: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "ingest": frozenset({"read", "ingest"}),
    "admin": frozenset({"read", "ingest", "admin"}),
}
KEY_PREFIX = "vgl_"


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, secret key)``; the key embeds its id for display."""
    key_id = secrets.token_hex(4)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def allows(scope: str, needed: str) -> bool:
    """Whether a key of ``scope`` may perform an action needing ``needed``."""
    return needed in GRANTS.get(scope, frozenset())
