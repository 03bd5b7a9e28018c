"""IBSI grey-level distance zone matrix (GLDZM) features.

Definitions follow the IBSI reference manual, section 3.9 (Zwanenburg et al., Radiology 2020;
https://ibsi.readthedocs.io/en/latest/03_Image_features.html; Thibault et al. 2014). Zones are the
8-connected equal-grey zones of the GLSZM; a zone's distance is the smallest distance to the ROI
border of its pixels, where the distance map counts 4-connected (city-block) steps to the nearest
pixel outside the mask or the image, border pixels having distance 1. IBSI "2D" aggregation: one
matrix per slice, features per slice, averaged over slices; IBSI "2.5D"
(``aggregation="merged"``): the slices' matrices summed into one; IBSI "3D" (``"3d"``):
26-connected zones, 6-connected distances through the volume. PyRadiomics has no GLDZM.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from texture._compat import positional_deprecated
from texture.discretisation import (
    MAX_MATRIX_LEVELS,
    SIZE_MATRIX_FEATURES,
    aggregate_matrices,
    check_aggregation,
    discretise,
    grey_level_image,
    size_matrix_features,
    slice_average,
    texture_blocks,
    validate_stack,
)
from texture.glszm import grey_level_zones

#: The 16 IBSI GLDZM features (keys of :func:`gldzm_features` without ``gldzm_``), IBSI order.
GLDZM_FEATURES: tuple[str, ...] = (
    "small_distance_emphasis",
    "large_distance_emphasis",
    "low_grey_level_zone_emphasis",
    "high_grey_level_zone_emphasis",
    "small_distance_low_grey_level_emphasis",
    "small_distance_high_grey_level_emphasis",
    "large_distance_low_grey_level_emphasis",
    "large_distance_high_grey_level_emphasis",
    "grey_level_non_uniformity",
    "normalised_grey_level_non_uniformity",
    "zone_distance_non_uniformity",
    "normalised_zone_distance_non_uniformity",
    "zone_percentage",
    "grey_level_variance",
    "zone_distance_variance",
    "zone_distance_entropy",
)
_GENERIC = dict(zip(SIZE_MATRIX_FEATURES[:16], GLDZM_FEATURES, strict=True))
_AGGREGATIONS = ("averaged", "merged", "3d")


def border_distance(mask: np.ndarray) -> np.ndarray:
    """City-block distance of each mask pixel (voxel) to the ROI border (1 on it, 0 outside).

    Steps are 4-connected in 2D, 6-connected in 3D; outside the array counts as outside the ROI.
    """
    padded = np.pad(mask, 1)
    inner = tuple(slice(1, -1) for _ in range(mask.ndim))
    return ndimage.distance_transform_cdt(padded, metric="taxicab")[inner]


@positional_deprecated("mask")
def gldzm_features(
    image: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    levels: int | None = None,
    aggregation: str = "averaged",
) -> dict[str, float]:
    """The 16 IBSI GLDZM features of a 2D image or a stack of slices (IBSI 2D: slice average).

    Parameters
    ----------
    image : ndarray, (rows, cols) or (slices, rows, cols)
        Grey levels 1..Ng when ``levels`` is None, otherwise any real intensities.
    mask : ndarray of bool, same shape, optional
        Region of interest; also defines the border the distances are measured to.
    levels : int, optional
        None: integer grey levels in ``image``; an integer: IBSI fixed bin number discretisation.
    aggregation : {"averaged", "merged", "3d"}
        "averaged": IBSI "2D" (features per slice, averaged over slices); "merged": IBSI "2.5D"
        (the slices' matrices summed into one); "3d": IBSI "3D" (one matrix over the volume,
        26-connected neighbourhoods). The first two are identical for a single 2D image.

    Returns
    -------
    dict
        ``gldzm_<IBSI name>`` -> value; zone distance entropy in bits.
    """
    check_aggregation(aggregation, _AGGREGATIONS)
    image, mask = validate_stack(image, mask)
    codes, n_levels = discretise(image, mask=mask, levels=levels, max_levels=MAX_MATRIX_LEVELS)
    grey = grey_level_image(codes, mask, n_levels=n_levels)
    blocks = texture_blocks(grey, mask, aggregation)
    n_pixels = np.array([[inside.sum()] for _, inside in blocks], dtype=np.float64)
    zones = []
    for block, inside in blocks:
        if not inside.any():
            zones.append((np.zeros(0, np.int64), np.zeros(0, np.int64)))
            continue
        labels, zone_grey, _ = grey_level_zones(block)
        distance = border_distance(inside)
        # Smallest distance per zone (ufunc.at: no sort, unlike ndimage.minimum).
        zone_distance = np.full(len(zone_grey) + 1, np.iinfo(np.int64).max)
        np.minimum.at(zone_distance, labels.reshape(-1), distance.reshape(-1).astype(np.int64))
        zones.append((zone_grey, zone_distance[1:]))
    max_distance = max(int(d.max()) for _, d in zones if len(d))
    matrices = np.zeros((len(blocks), 1, n_levels, max_distance))
    for z, (zone_grey, zone_distance) in enumerate(zones):
        index = (zone_grey - 1) * max_distance + zone_distance - 1
        matrices[z, 0] = np.bincount(index, minlength=n_levels * max_distance).reshape(n_levels, -1)
    groups = zip(
        aggregate_matrices(matrices, aggregation),
        aggregate_matrices(n_pixels, aggregation),
        strict=True,
    )
    averaged = slice_average([size_matrix_features(m, n) for m, n in groups if n > 0])
    return {f"gldzm_{name}": averaged[generic] for generic, name in _GENERIC.items()}
