"""The package's public names exist and stay importable."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_MODULES = ["vigil", "vigil.store", "vigil.synth", "vigil.api", "vigil.anomaly",
                  "vigil.baseline", "vigil.dwell"]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = module.__all__
    assert names, f"{module_name} exports nothing"
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []


def test_version_matches_package_metadata() -> None:
    from importlib.metadata import version

    import vigil

    assert vigil.__version__ == version("vigil")
