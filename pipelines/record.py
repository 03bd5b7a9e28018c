"""What analysing one image produces, before it becomes a table row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ImageResult"]


@dataclass
class ImageResult:
    """The outcome of one modality analysis of one image.

    Attributes
    ----------
    metrics : dict of str to float or str
        Metric columns for ``metrics.csv`` (final names from ARCHITECTURE.md).
    overlays : dict of str to ndarray
        Named RGB float images in [0, 1] for the report (e.g. ``"pores"``, ``"orientation"``).
    tables : dict of str to dict
        Extra per-image long tables (e.g. ``"orientations"``: column -> sequence), exported as
        ``<name>.csv`` with the image's identity columns prepended.
    warnings : list of str
        Problems that did not stop the measurement but the user must see (written to ``errors.csv``
        with stage ``warning``).
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    overlays: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
