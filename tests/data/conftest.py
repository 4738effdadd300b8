"""Fixtures for the data app's tests (the engine's tests need no database)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(settings, tmp_path) -> Path:
    root = tmp_path / "forge-data"
    settings.FORGE_DATA_DIR = root
    settings.FORGE_DATA_IMPORT_ROOT = tmp_path / "import"
    settings.FORGE_DATA_IMPORT_ROOT.mkdir()
    return root
