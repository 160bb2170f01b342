"""The rollup benchmark's job process gives Arrow the allocator the ``vigil`` script does."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from vigil.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_job_process_uses_the_scripts_arrow_allocator() -> None:
    if str(ROOT) not in sys.path:  # pytest puts only tests/ on the path, not the root
        sys.path.insert(0, str(ROOT))
    child = importlib.import_module("benchmarks.rollup_child")
    assert (child.ARROW_POOL_SETTING, child.ARROW_POOL) == \
        (main.ARROW_POOL_SETTING, main.ARROW_POOL)
