"""IBSI neighbouring grey level dependence matrix (NGLDM) features.

Definitions follow the IBSI reference manual, section 3.11 (Zwanenburg et al., Radiology 2020;
https://ibsi.readthedocs.io/en/latest/03_Image_features.html; Sun and Wee 1983). For every pixel in
the mask, its dependence count k is 1 plus the number of its 8 in-plane neighbours (Chebyshev
distance 1) inside the mask whose grey level equals its own (coarseness parameter alpha = 0). IBSI
"2D" aggregation: one matrix per slice, features per slice, averaged over slices; IBSI "2.5D"
(``aggregation="merged"``): the slices' matrices summed into one; IBSI "3D" (``"3d"``): 26
neighbours through the volume.
PyRadiomics calls this the GLDM.
"""

from __future__ import annotations

import itertools

import numpy as np

from texture._compat import positional_deprecated
from texture.discretisation import (
    MAX_MATRIX_LEVELS,
    SIZE_MATRIX_FEATURES,
    aggregate_matrices,
    check_aggregation,
    discretise,
    grey_level_image,
    shifted_pair_views,
    size_matrix_features,
    slice_average,
    texture_blocks,
    validate_stack,
)

#: The 17 IBSI NGLDM features (keys of :func:`ngldm_features` without ``ngldm_``), IBSI order.
NGLDM_FEATURES: tuple[str, ...] = (
    "low_dependence_emphasis",
    "high_dependence_emphasis",
    "low_grey_level_count_emphasis",
    "high_grey_level_count_emphasis",
    "low_dependence_low_grey_level_emphasis",
    "low_dependence_high_grey_level_emphasis",
    "high_dependence_low_grey_level_emphasis",
    "high_dependence_high_grey_level_emphasis",
    "grey_level_non_uniformity",
    "normalised_grey_level_non_uniformity",
    "dependence_count_non_uniformity",
    "normalised_dependence_count_non_uniformity",
    "dependence_count_percentage",
    "grey_level_variance",
    "dependence_count_variance",
    "dependence_count_entropy",
    "dependence_count_energy",
)
_GENERIC = dict(zip(SIZE_MATRIX_FEATURES, NGLDM_FEATURES, strict=True))
_AGGREGATIONS = ("averaged", "merged", "3d")


def dependence_counts(grey: np.ndarray) -> np.ndarray:
    """1 + number of equal-grey neighbours inside the mask (8 in 2D, 26 in 3D), per pixel.

    ``grey`` holds 1-based levels with 0 outside the mask.
    """
    # At most 27 in 3D: uint8 counts. Equality is symmetric, so each neighbouring pair is compared
    # once (13 or 4 offsets instead of 26 or 8) and credited to both pixels.
    counts = np.ones(grey.shape, dtype=np.uint8)
    for offset in itertools.product((-1, 0, 1), repeat=grey.ndim):
        if offset <= (0,) * grey.ndim:
            continue
        centre, neighbour = shifted_pair_views(grey, offset)
        equal = (centre == neighbour) & (neighbour > 0)
        here, there = shifted_pair_views(counts, offset)
        here += equal
        there += equal
    return counts


@positional_deprecated("mask")
def ngldm_features(
    image: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    levels: int | None = None,
    aggregation: str = "averaged",
) -> dict[str, float]:
    """The 17 IBSI NGLDM features of a 2D image or a stack of slices (IBSI 2D: slice average).

    Parameters
    ----------
    image : ndarray, (rows, cols) or (slices, rows, cols)
        Grey levels 1..Ng when ``levels`` is None, otherwise any real intensities.
    mask : ndarray of bool, same shape, optional
        Region of interest; neighbours outside it do not count. Default: the whole image.
    levels : int, optional
        None: integer grey levels in ``image``; an integer: IBSI fixed bin number discretisation.
    aggregation : {"averaged", "merged", "3d"}
        "averaged": IBSI "2D" (features per slice, averaged over slices); "merged": IBSI "2.5D"
        (the slices' matrices summed into one); "3d": IBSI "3D" (one matrix over the volume,
        26-connected neighbourhoods). The first two are identical for a single 2D image.

    Returns
    -------
    dict
        ``ngldm_<IBSI name>`` -> value; dependence count entropy in bits.
    """
    check_aggregation(aggregation, _AGGREGATIONS)
    image, mask = validate_stack(image, mask)
    codes, n_levels = discretise(image, mask=mask, levels=levels, max_levels=MAX_MATRIX_LEVELS)
    grey = grey_level_image(codes, mask, n_levels=n_levels)
    blocks = texture_blocks(grey, mask, aggregation)
    n_counts = 3 ** blocks[0][0].ndim
    n_pixels = np.array([[inside.sum()] for _, inside in blocks], dtype=np.float64)
    matrices = np.zeros((len(blocks), 1, n_levels, n_counts))
    for z, (block, inside) in enumerate(blocks):
        counts = dependence_counts(block)
        index = (block[inside].astype(np.intp) - 1) * n_counts + counts[inside] - 1
        matrices[z, 0] = np.bincount(index, minlength=n_levels * n_counts).reshape(n_levels, n_counts)
    groups = zip(
        aggregate_matrices(matrices, aggregation),
        aggregate_matrices(n_pixels, aggregation),
        strict=True,
    )
    averaged = slice_average([size_matrix_features(m, n) for m, n in groups if n > 0])
    return {f"ngldm_{name}": averaged[generic] for generic, name in _GENERIC.items()}
