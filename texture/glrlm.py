"""IBSI grey-level run length matrix (GLRLM) features.

Definitions follow the IBSI reference manual, section 3.7 (Zwanenburg et al., Radiology 2020;
https://ibsi.readthedocs.io/en/latest/03_Image_features.html). Runs are maximal straight lines of
equal grey level along the 4 in-plane directions (0, 45, 90, 135 degrees); the mask breaks runs.
Aggregations as for the GLCM (IBSI section 3.7, "aggregating features"):

- ``"averaged"`` ("2D, averaged"): features of every (slice, direction) matrix, averaged.
- ``"slice_merged"`` ("2D, slice-merged"): the 4 direction matrices of a slice summed, features per
  slice, averaged over slices.
- ``"direction_merged"`` ("2.5D, direction-merged"): each direction's matrices summed over slices.
- ``"merged"`` ("2.5D, merged"): one matrix over all slices and directions.
- ``"3d_averaged"`` / ``"3d_merged"`` ("3D, averaged" / "3D, merged"): runs along the 13
  directions through the volume, features per direction averaged, or the 13 matrices summed.

The run percentage divides by the voxel count of the merged matrices (e.g. 4x the slice's pixel
count when slice-merged), as IBSI prescribes.

Runs are found without Python loops over pixels: all lines of one direction are laid end to end
(separated by a background 0) and run boundaries are where consecutive values change.
"""

from __future__ import annotations

import numpy as np

from texture._compat import positional_deprecated
from texture.discretisation import (
    IN_PLANE_OFFSETS,
    MAX_MATRIX_LEVELS,
    SIZE_MATRIX_FEATURES,
    VOLUME_OFFSETS,
    aggregate_matrices,
    check_aggregation,
    discretise,
    grey_level_image,
    line_stream,
    size_matrix_features,
    slice_average,
    validate_stack,
    volume_line_stream,
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
_AGGREGATIONS = (
    "averaged",
    "slice_merged",
    "direction_merged",
    "merged",
    "3d_averaged",
    "3d_merged",
)


def run_length_matrix(grey: np.ndarray, n_levels: int, offset: tuple[int, ...]) -> np.ndarray:
    """Run length matrix (Ng, longest side) of 1-based grey levels (0 = outside the mask).

    ``grey`` is a 2D slice with an in-plane offset, or a volume with one of the 13 3D offsets.
    """
    stream = line_stream(grey, offset) if grey.ndim == 2 else volume_line_stream(grey, offset)
    if stream.size and (stream[0] or stream[-1]):
        stream = np.pad(stream, 1)
    # The stream starts and ends with 0, so consecutive changes bound every run: a run of value v
    # from bounds[k] + 1 to bounds[k + 1]. Runs of 0 (outside) get their own matrix row, dropped
    # after counting (cheaper than filtering them out first: 1.3x faster at 1024^2, 32 levels);
    # their lengths are clipped so that long gaps between lines stay in that row. Run (v, length)
    # is counted at v * max_length + length, i.e. matrix[v - 1, length - 1] after the offset.
    bounds = np.flatnonzero(stream[1:] != stream[:-1])
    max_length = max(grey.shape)
    lengths = bounds[1:] - bounds[:-1]
    np.minimum(lengths, max_length, out=lengths)
    index = stream[1:][bounds[:-1]].astype(np.intp)
    index *= max_length
    index += lengths
    counts = np.bincount(index, minlength=(n_levels + 1) * max_length + 1)[max_length + 1 :]
    return counts.reshape(n_levels, max_length).astype(np.float64)


@positional_deprecated("mask")
def glrlm_features(
    image: np.ndarray,
    *,
    mask: np.ndarray | None = None,
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
    aggregation : str
        "averaged", "slice_merged", "direction_merged", "merged", "3d_averaged" or "3d_merged":
        IBSI "2D, averaged", "2D, slice-merged", "2.5D, direction-merged", "2.5D, merged",
        "3D, averaged" or "3D, merged".

    Returns
    -------
    dict
        ``glrlm_<IBSI name>`` -> value; run entropy in bits.
    """
    check_aggregation(aggregation, _AGGREGATIONS)
    image, mask = validate_stack(image, mask)
    codes, n_levels = discretise(image, mask=mask, levels=levels, max_levels=MAX_MATRIX_LEVELS)
    grey = grey_level_image(codes, mask, n_levels=n_levels)
    if aggregation.startswith("3d"):
        grey, mask = grey[None], mask[None]  # one volume, 13 directions
    offsets = VOLUME_OFFSETS if aggregation.startswith("3d") else IN_PLANE_OFFSETS
    matrices = np.zeros((grey.shape[0], len(offsets), n_levels, max(grey.shape[1:])))
    n_pixels = np.zeros((grey.shape[0], len(offsets)))
    for z in range(grey.shape[0]):
        n_pixels[z] = mask[z].sum()
        for d, offset in enumerate(offsets):
            matrices[z, d] = run_length_matrix(grey[z], n_levels, offset)
    groups = zip(
        aggregate_matrices(matrices, aggregation),
        aggregate_matrices(n_pixels, aggregation),
        strict=True,
    )
    averaged = slice_average([size_matrix_features(m, n) for m, n in groups if n > 0])
    return {f"glrlm_{name}": averaged[generic] for generic, name in _GENERIC.items()}
