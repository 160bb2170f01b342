"""Vigil: behavioural analytics over camera and smart-home events.

The public names are imported on first use, so that ``import vigil`` (and the ``vigil``
command's start-up) stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.config import Settings, load_settings
    from vigil.model import EventIn, IngestResult, RejectedItem

__all__ = ["EventIn", "IngestResult", "RejectedItem", "Settings", "load_settings", "__version__"]

__version__ = "0.1.0"

_HOMES = {"EventIn": "vigil.model", "IngestResult": "vigil.model",
          "RejectedItem": "vigil.model", "Settings": "vigil.config",
          "load_settings": "vigil.config"}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'vigil' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
