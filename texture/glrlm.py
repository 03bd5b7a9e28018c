"""IBSI grey-level run length matrix (GLRLM) features.

Definitions follow the IBSI reference manual, section 3.7 (Zwanenburg et al., Radiology 2020;
https://ibsi.readthedocs.io/en/latest/03_Image_features.html). Runs are maximal straight lines of
equal grey level along the 4 in-plane directions (0, 45, 90, 135 degrees); the mask breaks runs.
Aggregations as for the GLCM (IBSI section 3.1.2):

- ``"averaged"`` ("2D, averaged"): features of every (slice, direction) matrix, averaged.
- ``"slice_merged"`` ("2D, slice-merged"): the 4 direction matrices of a slice summed, features per
  slice, averaged over slices.
- ``"direction_merged"`` ("2.5D, direction-merged"): each direction's matrices summed over slices.
- ``"merged"`` ("2.5D, merged"): one matrix over all slices and directions.

The run percentage divides by the pixel count of the merged matrices (e.g. 4x the slice's pixel
count when slice-merged), as IBSI prescribes. 3D aggregations are not implemented.

Runs are found without Python loops over pixels: all lines of one direction are laid end to end
(separated by a background 0) and run boundaries are where consecutive values change.
"""

from __future__ import annotations

import numpy as np

from texture.discretisation import (
    IN_PLANE_OFFSETS,
    SIZE_MATRIX_FEATURES,
    aggregate_matrices,
    check_aggregation,
    discretise,
    grey_level_image,
    line_stream,
    size_matrix_features,
    slice_average,
    validate_stack,
)

#: The 16 IBSI GLRLM features (keys of :func:`glrlm_features` without ``glrlm_``), IBSI order.
GLRLM_FEATURES: tuple[str, ...] = (
    "short_runs_emphasis",
    "long_runs_emphasis",
    "low_grey_level_run_emphasis",
    "high_grey_level_run_emphasis",
    "short_run_low_grey_level_emphasis",
    "short_run_high_grey_level_emphasis",
    "long_run_low_grey_level_emphasis",
    "long_run_high_grey_level_emphasis",
    "grey_level_non_uniformity",
    "normalised_grey_level_non_uniformity",
    "run_length_non_uniformity",
    "normalised_run_length_non_uniformity",
    "run_percentage",
    "grey_level_variance",
    "run_length_variance",
    "run_entropy",
)
_GENERIC = dict(zip(SIZE_MATRIX_FEATURES[:16], GLRLM_FEATURES, strict=True))
_AGGREGATIONS = ("averaged", "slice_merged", "direction_merged", "merged")


def run_length_matrix(grey: np.ndarray, n_levels: int, offset: tuple[int, int]) -> np.ndarray:
    """Run length matrix (Ng, max(rows, cols)) of a 2D slice of 1-based grey levels (0 = outside)."""
    stream = line_stream(grey, offset)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(stream)) + 1))
    lengths = np.diff(np.append(starts, stream.size))
    values = stream[starts]
    inside = values > 0
    max_length = max(grey.shape)
    index = (values[inside] - 1) * max_length + lengths[inside] - 1
    counts = np.bincount(index, minlength=n_levels * max_length)
    return counts.reshape(n_levels, max_length).astype(np.float64)


def glrlm_features(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    levels: int | None = None,
    aggregation: str = "averaged",
) -> dict[str, float]:
    """The 16 IBSI GLRLM features of a 2D image or a stack of slices.

    Parameters
    ----------
    image : ndarray, (rows, cols) or (slices, rows, cols)
        Grey levels 1..Ng when ``levels`` is None, otherwise any real intensities.
    mask : ndarray of bool, same shape, optional
        Region of interest; pixels outside it break runs. Default: the whole image.
    levels : int, optional
        None: integer grey levels in ``image``; an integer: IBSI fixed bin number discretisation.
    aggregation : {"averaged", "slice_merged", "direction_merged", "merged"}
        IBSI "2D, averaged", "2D, slice-merged", "2.5D, direction-merged" or "2.5D, merged".

    Returns
    -------
    dict
        ``glrlm_<IBSI name>`` -> value; run entropy in bits.
    """
    check_aggregation(aggregation, _AGGREGATIONS)
    image, mask = validate_stack(image, mask)
    codes, n_levels = discretise(image, mask, levels)
    grey = grey_level_image(codes, mask)
    n_slices, rows, cols = grey.shape
    matrices = np.zeros((n_slices, len(IN_PLANE_OFFSETS), n_levels, max(rows, cols)))
    n_pixels = np.zeros((n_slices, len(IN_PLANE_OFFSETS)))
    for z in range(n_slices):
        n_pixels[z] = mask[z].sum()
        for d, offset in enumerate(IN_PLANE_OFFSETS):
            matrices[z, d] = run_length_matrix(grey[z], n_levels, offset)
    groups = zip(
        aggregate_matrices(matrices, aggregation),
        aggregate_matrices(n_pixels, aggregation),
        strict=True,
    )
    averaged = slice_average([size_matrix_features(m, n) for m, n in groups if n > 0])
    return {f"glrlm_{name}": averaged[generic] for generic, name in _GENERIC.items()}
