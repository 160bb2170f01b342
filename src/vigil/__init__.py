"""Vigil: behavioural analytics over camera and smart-home events."""

from vigil.config import Settings, load_settings
from vigil.model import EventIn, IngestResult, RejectedItem

__all__ = ["EventIn", "IngestResult", "RejectedItem", "Settings", "load_settings", "__version__"]

__version__ = "0.1.0"
