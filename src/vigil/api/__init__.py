"""The HTTP service: a FastAPI app, one router per area."""

from vigil.api.app import create_app

__all__ = ["create_app"]
