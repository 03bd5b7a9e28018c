"""Shared fixtures: where the reference data sets are.

Sets whose licence allows it are copied into ``tests/data/<set>/`` (each with its ``LICENSE.md``), so the
README's test command runs them in a fresh clone. The others (the H&E crop of OpenSlide test data) stay in
``../shared/data/``, which CI provides; a test that needs one of those fails under ``CI=true`` instead of
skipping, so a missing set can never pass unnoticed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TEST_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to anything but an empty/false value."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def data_set(name: str) -> Path:
    """The folder of reference set ``name``: the copy under tests/data/ when there is one, else
    ``../shared/data/<name>`` (which may not exist outside the project's machines)."""
    copied = TEST_DATA / name
    return copied if copied.is_dir() else SHARED_DATA / name


class DataRoot:
    """``root / "set" / "file"`` resolves a set through :func:`data_set`; a set that is nowhere skips the
    test with where to put it (outside CI) or fails it (under CI)."""

    def __truediv__(self, name: str) -> Path:
        folder = data_set(name)
        if not folder.is_dir():
            message = (
                f"reference set {name!r} not found in {TEST_DATA} or {SHARED_DATA}; "
                "clone the project next to its shared/data folder"
            )
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
        return folder


@pytest.fixture(scope="session")
def shared_data() -> DataRoot:
    return DataRoot()
