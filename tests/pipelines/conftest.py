"""Fixtures shared by the pipeline tests."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.pipelines.hostile import skin


@pytest.fixture
def inside(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(skin(0)).save(folder / "P01_s0_cheek.png")
    Image.fromarray(skin(1)).save(tmp_path / "outside.png")
    return folder
