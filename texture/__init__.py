"""skintex measurement library: arrays in, numbers (and overlay arrays) out.

No file I/O, no pandas, no global state. Every function takes the image first, options keyword-only,
and the physical scale (``px_per_mm``) explicitly.

:data:`FEATURE_FAMILIES` is the registry of the IBSI texture families (PyRadiomics-style): the IBSI
conformance test, the conformance document and the benchmarks read it instead of keeping their own lists.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from texture.measurement import Measurement

__all__ = ["Measurement", "FeatureFamily", "FEATURE_FAMILIES", "IBSI_AGGREGATIONS"]


@dataclass(frozen=True)
class FeatureFamily:
    """One IBSI feature family: its column prefix, where its function lives, and provenance.

    ``ibsi_families`` are the names the IBSI reference manual (and ``reference_values.csv``) uses for it.
    """

    prefix: str
    module: str
    function: str
    ibsi_chapter: str
    ibsi_families: tuple[str, ...]

    @property
    def compute(self) -> Callable[..., dict[str, Any]]:
        """``<prefix>_features(image, *, mask=None, levels=None, ...)`` (imported on first use)."""
        return getattr(importlib.import_module(self.module), self.function)


#: IBSI texture families by column prefix (Zwanenburg et al., Radiology 2020;295:328, reference manual
#: chapter 3 "Image features"); every function returns a dict of ``<prefix>_<ibsi name>`` values.
FEATURE_FAMILIES: dict[str, FeatureFamily] = {
    f.prefix: f
    for f in (
        FeatureFamily(
            "firstorder",
            "texture.firstorder",
            "firstorder_features",
            "3.3-3.5 intensity-based statistics, intensity histogram",
            ("intensity_statistics", "intensity_histogram"),
        ),
        FeatureFamily("glcm", "texture.glcm", "glcm_features", "3.6 grey level co-occurrence", ("glcm",)),
        FeatureFamily("glrlm", "texture.glrlm", "glrlm_features", "3.7 grey level run length", ("glrlm",)),
        FeatureFamily("glszm", "texture.glszm", "glszm_features", "3.8 grey level size zone", ("glszm",)),
        FeatureFamily("gldzm", "texture.gldzm", "gldzm_features", "3.9 grey level distance zone", ("gldzm",)),
        FeatureFamily(
            "ngtdm", "texture.ngtdm", "ngtdm_features", "3.10 neighbourhood grey tone difference", ("ngtdm",)
        ),
        FeatureFamily(
            "ngldm", "texture.ngldm", "ngldm_features", "3.11 neighbouring grey level dependence", ("ngldm",)
        ),
    )
}


#: The IBSI reference manual's aggregation names (as its reference tables spell them) -> the keyword
#: arguments of our ``*_features`` functions; an empty name is first order (the whole ROI). Read by the
#: IBSI conformance test and ``docs/make_ibsi_conformance.py``.
IBSI_AGGREGATIONS: dict[str, dict[str, str]] = {
    "": {},
    "2D, averaged": {"aggregation": "averaged"},
    "2D, slice-merged": {"aggregation": "slice_merged"},
    "2D": {"aggregation": "averaged"},
    "2.5D, direction-merged": {"aggregation": "direction_merged"},
    "2.5D, merged": {"aggregation": "merged"},
    "2.5D": {"aggregation": "merged"},
    "3D, averaged": {"aggregation": "3d_averaged"},
    "3D, merged": {"aggregation": "3d_merged"},
    "3D": {"aggregation": "3d"},
}
