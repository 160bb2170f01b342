"""API-key checks: once any key exists, every endpoint but /healthz needs one."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request

from vigil.api.errors import ApiError
from vigil.api.state import AppState, app_state
from vigil.keys import allows, hash_key


def presented_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer …`` or ``X-API-Key``."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def require(scope: str) -> Callable[..., None]:
    """Dependency: the request must carry a key granting ``scope`` (if keys exist)."""

    def check(request: Request, state: AppState = Depends(app_state)) -> None:
        if state.store.count_api_keys() == 0:
            return
        key = presented_key(request)
        if key is None:
            raise ApiError(401, "an API key is required (Authorization: Bearer KEY)",
                           "authorization", headers={"WWW-Authenticate": "Bearer"})
        found = state.store.find_api_key(hash_key(key))
        if found is None:
            raise ApiError(401, "unknown API key", "authorization",
                           headers={"WWW-Authenticate": "Bearer"})
        if not allows(found[1], scope):
            raise ApiError(403, f"this key has scope {found[1]!r}; {scope!r} is needed",
                           "authorization")

    return check
