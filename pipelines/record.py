"""What analysing one image produces before it becomes a table row: the record type, the identity
columns that lead every row of ``metrics.csv``, and where an image's overlays are kept."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ImageResult",
    "IDENTITY_COLUMNS",
    "OVERLAY_MAX_SIDE_PX",
    "overlay_key",
    "overlay_dir_for",
    "baseline_session",
    "baseline_sessions_by_group",
]


@dataclass
class ImageResult:
    """The outcome of one modality analysis of one image.

    Attributes
    ----------
    metrics : dict of str to float or str
        Metric columns for ``metrics.csv`` (final names from docs/architecture.md).
    overlays : dict of str to ndarray
        Named RGB float images in [0, 1] for the report (e.g. ``"pores"``, ``"orientation"``).
    tables : dict of str to dict
        Extra per-image long tables (e.g. ``"orientations"``: column -> sequence), exported as
        ``<name>.csv`` with the image's identity columns prepended.
    warnings : list of str
        Problems that did not stop the measurement but the user must see (written to ``errors.csv``
        with stage ``warning``).
    rows : list of dict
        Further ``metrics.csv`` rows for parts of the image measured on their own (facial zones), each
        with its own ``region`` and metric columns; the identity columns are added as for ``metrics``.
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    overlays: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


IDENTITY_COLUMNS = (
    "file",
    "sha256",
    "subject",
    "session",
    "date",
    "modality",
    "region",
    "stain",
    "px_per_mm",
    "width_px",
    "height_px",
    "treatment",
)


OVERLAY_MAX_SIDE_PX = 1024


def overlay_key(sha256: str, file: str) -> str:
    """Folder name of one image's overlays: 16 hex digits of a hash of its content and its path, so two
    byte-identical files (measured with different ROIs or metadata) keep their own overlays."""
    return hashlib.sha256(f"{sha256}\0{file}".encode()).hexdigest()[:16]


def overlay_dir_for(out_dir: Path, sha256: str, file: str) -> Path:
    """Where the report finds an image's overlays: ``OUT/overlays/<overlay_key>/``."""
    return out_dir / "overlays" / overlay_key(sha256, file)


def baseline_session(sessions) -> int:
    """The baseline among a subject's sessions (of one region, modality and stain): session 0 when it
    is there, else the earliest. The one place this rule lives: alignment references, changes and the
    cohort all ask here."""
    values = np.asarray([int(s) for s in sessions], dtype=np.int64)
    if not values.size:
        raise ValueError("no sessions: a group without images has no baseline")
    return int(baseline_sessions_by_group(values, np.zeros(values.size, dtype=np.int64))[0])


def baseline_sessions_by_group(sessions: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """:func:`baseline_session` for many groups at once: per element, the baseline of its group
    (``groups``: integer group codes, e.g. from ``DataFrame.groupby(...).ngroup()``)."""
    sessions = np.asarray(sessions, dtype=np.int64)
    codes = np.asarray(groups, dtype=np.int64)
    if sessions.shape != codes.shape or sessions.ndim != 1:
        raise ValueError("sessions and groups must be 1-D arrays of one length")
    if not sessions.size:
        return sessions.copy()
    n = int(codes.max()) + 1
    earliest = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(earliest, codes, sessions)
    has_zero = np.zeros(n, dtype=bool)
    has_zero[codes[sessions == 0]] = True
    return np.where(has_zero, 0, earliest)[codes]
