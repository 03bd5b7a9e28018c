"""IBSI grey-level size zone matrix (GLSZM) features.

Definitions follow the IBSI reference manual, section 3.8 (Zwanenburg et al., Radiology 2020;
https://ibsi.readthedocs.io/en/latest/03_Image_features.html). A zone is a set of 8-connected
(in-plane) pixels of equal grey level inside the mask. IBSI "2D" aggregation: one matrix per slice,
features per slice, averaged over slices. Zones are labelled with ``skimage.measure.label``, which
connects neighbours of equal value. IBSI "2.5D" (``aggregation="merged"``): the slices' matrices
summed into one. IBSI "3D" (``aggregation="3d"``): 26-connected zones through the volume.
"""

from __future__ import annotations

import numpy as np
from skimage.measure import label

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

#: The 16 IBSI GLSZM features (keys of :func:`glszm_features` without ``glszm_``), IBSI order.
GLSZM_FEATURES: tuple[str, ...] = (
    "small_zone_emphasis",
    "large_zone_emphasis",
    "low_grey_level_zone_emphasis",
    "high_grey_level_zone_emphasis",
    "small_zone_low_grey_level_emphasis",
    "small_zone_high_grey_level_emphasis",
    "large_zone_low_grey_level_emphasis",
    "large_zone_high_grey_level_emphasis",
    "grey_level_non_uniformity",
    "normalised_grey_level_non_uniformity",
    "zone_size_non_uniformity",
    "normalised_zone_size_non_uniformity",
    "zone_percentage",
    "grey_level_variance",
    "zone_size_variance",
    "zone_size_entropy",
)
_GENERIC = dict(zip(SIZE_MATRIX_FEATURES[:16], GLSZM_FEATURES, strict=True))
_AGGREGATIONS = ("averaged", "merged", "3d")


def grey_level_zones(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label the equal-grey zones of a 2D slice (8-connected) or volume (26-connected).

    ``grey`` holds 1-based levels with 0 outside the mask.

    Returns ``(labels, zone_grey, zone_size)``: the label image (0 outside) and, for labels 1..n,
    each zone's grey level and pixel count.
    """
    labels = label(grey, background=0, connectivity=grey.ndim)
    n_zones = int(labels.max())
    zone_grey = np.zeros(n_zones + 1, dtype=np.int64)
    zone_grey[labels.reshape(-1)] = grey.reshape(-1)
    zone_size = np.bincount(labels.reshape(-1), minlength=n_zones + 1)
    return labels, zone_grey[1:], zone_size[1:]


@positional_deprecated("mask")
def glszm_features(
    image: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    levels: int | None = None,
    aggregation: str = "averaged",
) -> dict[str, float]:
    """The 16 IBSI GLSZM features of a 2D image or a stack of slices (IBSI 2D: slice average).

    Parameters
    ----------
    image : ndarray, (rows, cols) or (slices, rows, cols)
        Grey levels 1..Ng when ``levels`` is None, otherwise any real intensities.
    mask : ndarray of bool, same shape, optional
        Region of interest. Default: the whole image.
    levels : int, optional
        None: integer grey levels in ``image``; an integer: IBSI fixed bin number discretisation.
    aggregation : {"averaged", "merged", "3d"}
        "averaged": IBSI "2D" (features per slice, averaged over slices); "merged": IBSI "2.5D"
        (the slices' matrices summed into one); "3d": IBSI "3D" (one matrix over the volume,
        26-connected neighbourhoods). The first two are identical for a single 2D image.

    Returns
    -------
    dict
        ``glszm_<IBSI name>`` -> value; zone size entropy in bits.
    """
    check_aggregation(aggregation, _AGGREGATIONS)
    image, mask = validate_stack(image, mask)
    codes, n_levels = discretise(image, mask=mask, levels=levels, max_levels=MAX_MATRIX_LEVELS)
    grey = grey_level_image(codes, mask, n_levels=n_levels)
    blocks = texture_blocks(grey, mask, aggregation)
    n_pixels = np.array([[inside.sum()] for _, inside in blocks], dtype=np.float64)
    zones = [grey_level_zones(block)[1:] for block, _ in blocks]
    # One column per zone size present: a flat photo region makes zones of a million pixels.
    # Column of each size present, by a lookup table over 0..largest size (no sort).
    present = np.zeros(max((int(size.max()) for _, size in zones if len(size)), default=0) + 1, bool)
    for _, size in zones:
        present[size] = True
    sizes = np.flatnonzero(present)
    column = np.cumsum(present) - 1
    matrices = np.zeros((len(blocks), 1, n_levels, len(sizes)))
    for z, (zone_grey, zone_size) in enumerate(zones):
        index = (zone_grey - 1) * len(sizes) + column[zone_size]
        matrices[z, 0] = np.bincount(index, minlength=n_levels * len(sizes)).reshape(n_levels, -1)
    groups = zip(
        aggregate_matrices(matrices, aggregation),
        aggregate_matrices(n_pixels, aggregation),
        strict=True,
    )
    averaged = slice_average([size_matrix_features(m, n, sizes) for m, n in groups if n > 0])
    return {f"glszm_{name}": averaged[generic] for generic, name in _GENERIC.items()}
