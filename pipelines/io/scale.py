"""The one plausibility rule for a physical scale (px/mm), by modality.

A scale outside these ranges is almost always a unit slip (µm/px typed as px/mm, dpi, a writer's default),
and it does not fail quietly: 5000 px/mm on a camera photo makes every mm-sized structure thousands of
pixels wide (a 195 s run, ITA +90°), 0.5 px/mm shrinks the ROI and its filters to nothing. So a scale
outside the range of its image's modality is refused when the run loads its metadata, with the reason,
unless the user forces it (``force_scale: true`` in the config, ``--force-scale`` on the command line).

=============  ======================  =====================================================================
modality       plausible px/mm         why
=============  ======================  =====================================================================
photo          1 – 200                 1 px/mm is a whole face on a ~250 px wide image; 200 px/mm (5 µm/px)
                                       is beyond any macro or dermoscopy lens (dermoscopes: 10–100 px/mm)
histology      100 – 20 000            10 µm/px (a 1x scan) to 0.05 µm/px (beyond the 100x oil objective's
                                       optical resolution); whole-slide scans are 2000–4000 px/mm
=============  ======================  =====================================================================

An image whose modality is not known before decoding (no manifest, no stain in its name) may be either,
so it is held to the union of the two ranges.
"""

from __future__ import annotations

import math

__all__ = ["PLAUSIBLE_PX_PER_MM", "scale_problem"]

#: Plausible scale per modality, px/mm (inclusive); see the module notes for the reasons.
PLAUSIBLE_PX_PER_MM: dict[str, tuple[float, float]] = {
    "photo": (1.0, 200.0),
    "histology": (100.0, 20_000.0),
}


def _range_for(modality: str | None) -> tuple[float, float]:
    if modality in PLAUSIBLE_PX_PER_MM:
        return PLAUSIBLE_PX_PER_MM[modality]
    lows, highs = zip(*PLAUSIBLE_PX_PER_MM.values(), strict=True)
    return min(lows), max(highs)


def scale_problem(px_per_mm: float | None, modality: str | None) -> str | None:
    """Why ``px_per_mm`` is implausible for an image of ``modality`` (``photo``, ``histology``, or None
    when not yet known), or None when it is plausible (or absent).

    Examples
    --------
    >>> scale_problem(20.0, "photo") is None
    True
    >>> scale_problem(5000.0, "photo")[:40]
    'px_per_mm 5000 is outside the plausible '
    """
    if px_per_mm is None:
        return None
    value = float(px_per_mm)
    if not math.isfinite(value) or value <= 0:
        return f"px_per_mm must be a positive number, got {value:.6g}"
    low, high = _range_for(modality)
    if low <= value <= high:
        return None
    what = f"{modality} " if modality in PLAUSIBLE_PX_PER_MM else ""
    hint = " (was a µm/px value given as px/mm?)" if value < low else ""
    return (
        f"px_per_mm {value:.6g} is outside the plausible range for {what}images, "
        f"{low:g}-{high:g} px/mm{hint}; pass --force-scale (force_scale: true) if it is right"
    )
