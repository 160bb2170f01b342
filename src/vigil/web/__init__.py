"""The web dashboard: static files served by ``vigil serve`` at ``/`` (no build step, no CDN)."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
INDEX_HTML = STATIC_DIR / "index.html"
