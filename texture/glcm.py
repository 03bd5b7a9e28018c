"""IBSI grey-level co-occurrence matrix (GLCM) features, and sliding-window GLCM feature maps.

Definitions follow the IBSI reference manual, section 3.6 (Zwanenburg et al., Radiology 2020;
https://ibsi.readthedocs.io/en/latest/03_Image_features.html): symmetric matrices at Chebyshev
distance ``distance`` along the 4 in-plane directions, only pairs with both pixels in the mask,
entropies in bits (log2). Two IBSI 2D aggregations:

- ``"averaged"`` (IBSI "2D, averaged"): the 25 features of every (slice, direction) matrix, averaged.
- ``"slice_merged"`` (IBSI "2D, slice-merged"): the 4 direction matrices of a slice summed, features
  per slice, averaged over slices.

Matrices without any pair (e.g. the vertical direction of a one-row mask) are left out of the
average, as PyRadiomics does; if no matrix has a pair, ``ValueError``.

Pairs are counted with one 2D histogram of two shifted views per direction (OpenCV ``calcHist``
for up to 256 levels, ``numpy.bincount`` otherwise), and the features come from the matrix's
marginals (row, sum and difference distributions) in O(Ng^2), so the cost is a few passes over the
image whatever the number of features.

Degenerate matrices (a constant ROI, Ng = 1 or all pairs on one level) give defined values:
correlation = 1 (as scikit-image's ``graycoprops`` and PyRadiomics), information correlation 1
and 2 = 0 (PyRadiomics), all variances/cluster moments 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from texture.discretisation import IN_PLANE_OFFSETS, discretise, shifted_pair_views, validate_stack

#: The 25 IBSI GLCM features, in IBSI manual order (keys of :func:`glcm_features` without ``glcm_``).
GLCM_FEATURES: tuple[str, ...] = (
    "joint_maximum",
    "joint_average",
    "joint_variance",
    "joint_entropy",
    "difference_average",
    "difference_variance",
    "difference_entropy",
    "sum_average",
    "sum_variance",
    "sum_entropy",
    "angular_second_moment",
    "contrast",
    "dissimilarity",
    "inverse_difference",
    "normalised_inverse_difference",
    "inverse_difference_moment",
    "normalised_inverse_difference_moment",
    "inverse_variance",
    "correlation",
    "autocorrelation",
    "cluster_tendency",
    "cluster_shade",
    "cluster_prominence",
    "information_correlation_1",
    "information_correlation_2",
)

_AGGREGATIONS = ("averaged", "slice_merged")

# calcHist counts in float32, exact up to 2**24 pairs per matrix.
_CALCHIST_MAX_PAIRS = 2**24


def _pair_counts(
    codes: np.ndarray, mask: np.ndarray, full_mask: bool, n_levels: int, offset: tuple[int, int]
) -> np.ndarray:
    """Symmetric co-occurrence counts (Ng, Ng) of one 2D slice for one offset."""
    a, b = shifted_pair_views(codes, offset)
    if a.size == 0:
        return np.zeros((n_levels, n_levels))
    valid = None
    if not full_mask:
        ma, mb = shifted_pair_views(mask, offset)
        valid = ma & mb
    if codes.dtype == np.uint8 and a.size <= _CALCHIST_MAX_PAIRS:
        valid_u8 = None if valid is None else valid.view(np.uint8)
        counts = cv2.calcHist(
            [a, b], [0, 1], valid_u8, [n_levels, n_levels], [0, n_levels, 0, n_levels]
        ).astype(np.float64)
    else:
        index = a.astype(np.int64) * n_levels + b
        index = index[valid] if valid is not None else index.reshape(-1)
        counts = np.bincount(index, minlength=n_levels * n_levels).astype(np.float64)
        counts = counts.reshape(n_levels, n_levels)
    return counts + counts.T


def _entropy_bits(p: np.ndarray, axis: int | tuple[int, ...] = -1) -> np.ndarray:
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return -(p * logs).sum(axis=axis)


def _diagonal_sums(p: np.ndarray) -> np.ndarray:
    """Sums of a stack of (Ng, Ng) matrices along their anti-diagonals i + j = 0 .. 2Ng-2.

    Laying each row out in a row of length 2Ng and re-reading the buffer with rows of length 2Ng-1
    shifts row i right by i, so that column i + j collects element (i, j).
    """
    n, n_levels = p.shape[0], p.shape[1]
    padded = np.zeros((n, n_levels, 2 * n_levels))
    padded[:, :, :n_levels] = p
    skewed = padded.reshape(n, -1)[:, : n_levels * (2 * n_levels - 1)]
    return skewed.reshape(n, n_levels, 2 * n_levels - 1).sum(axis=1)


def features_from_matrices(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The 25 IBSI GLCM features of a stack of symmetric co-occurrence count matrices (n, Ng, Ng).

    Every matrix must hold at least one pair. Ng is the matrix size (it enters the normalised
    inverse differences). Returns feature name (without ``glcm_``) -> array of n values.
    """
    n_levels = counts.shape[-1]
    p = counts / counts.sum(axis=(1, 2), keepdims=True)
    levels = np.arange(1, n_levels + 1, dtype=np.float64)
    p_row = p.sum(axis=2)

    p_sum = _diagonal_sums(p)
    signed_diff = _diagonal_sums(p[:, :, ::-1])  # column k holds i - j = k - (Ng - 1)
    p_diff = signed_diff[:, n_levels - 1 :].copy()
    p_diff[:, 1:] += signed_diff[:, n_levels - 2 :: -1]
    k_sum = np.arange(2, 2 * n_levels + 1, dtype=np.float64)
    k_diff = np.arange(n_levels, dtype=np.float64)

    mean = p_row @ levels
    deviation = levels[None, :] - mean[:, None]
    variance = (deviation**2 * p_row).sum(axis=1)
    covariance = np.einsum("ni,nij,nj->n", deviation, p, deviation)
    sum_average = p_sum @ k_sum
    centred_sum = k_sum[None, :] - 2.0 * mean[:, None]
    difference_average = p_diff @ k_diff

    joint_entropy = _entropy_bits(p, axis=(1, 2))
    marginal_entropy = _entropy_bits(p_row)
    # For a symmetric matrix HXY1 = HXY2 = HX + HY = 2 HX (IBSI 3.6.24-25).
    mutual_information = np.maximum(2.0 * marginal_entropy - joint_entropy, 0.0)
    has_spread = variance > 0
    has_entropy = marginal_entropy > 0
    flat_p = p.reshape(p.shape[0], -1)

    return {
        "joint_maximum": flat_p.max(axis=1),
        "joint_average": mean,
        "joint_variance": variance,
        "joint_entropy": joint_entropy,
        "difference_average": difference_average,
        "difference_variance": ((k_diff[None, :] - difference_average[:, None]) ** 2 * p_diff).sum(axis=1),
        "difference_entropy": _entropy_bits(p_diff),
        "sum_average": sum_average,
        "sum_variance": ((k_sum[None, :] - sum_average[:, None]) ** 2 * p_sum).sum(axis=1),
        "sum_entropy": _entropy_bits(p_sum),
        "angular_second_moment": np.einsum("ni,ni->n", flat_p, flat_p),
        "contrast": p_diff @ k_diff**2,
        "dissimilarity": difference_average,
        "inverse_difference": p_diff @ (1.0 / (1.0 + k_diff)),
        "normalised_inverse_difference": p_diff @ (1.0 / (1.0 + k_diff / n_levels)),
        "inverse_difference_moment": p_diff @ (1.0 / (1.0 + k_diff**2)),
        "normalised_inverse_difference_moment": p_diff @ (1.0 / (1.0 + k_diff**2 / n_levels**2)),
        "inverse_variance": p_diff[:, 1:] @ (1.0 / k_diff[1:] ** 2),
        "correlation": np.where(has_spread, covariance / np.where(has_spread, variance, 1.0), 1.0),
        "autocorrelation": np.einsum("i,nij,j->n", levels, p, levels),
        "cluster_tendency": (centred_sum**2 * p_sum).sum(axis=1),
        "cluster_shade": (centred_sum**3 * p_sum).sum(axis=1),
        "cluster_prominence": (centred_sum**4 * p_sum).sum(axis=1),
        "information_correlation_1": np.where(
            has_entropy, -mutual_information / np.where(has_entropy, marginal_entropy, 1.0), 0.0
        ),
        "information_correlation_2": np.sqrt(np.maximum(1.0 - np.exp(-2.0 * mutual_information), 0.0)),
    }


def glcm_matrices(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    levels: int | None = None,
    distance: int = 1,
) -> np.ndarray:
    """Symmetric co-occurrence counts per slice and in-plane direction.

    Returns
    -------
    ndarray, shape (slices, 4, Ng, Ng)
        Pair counts (each unordered pair counted in both orders) for the directions
        :data:`texture.discretisation.IN_PLANE_OFFSETS` (0, 45, 90, 135 degrees).
    """
    image, mask = validate_stack(image, mask)
    if isinstance(distance, bool) or not isinstance(distance, (int, np.integer)) or distance < 1:
        raise ValueError(f"distance must be a positive integer, got {distance!r}")
    codes, n_levels = discretise(image, mask, levels)
    out = np.empty((image.shape[0], len(IN_PLANE_OFFSETS), n_levels, n_levels))
    for z in range(image.shape[0]):
        full_mask = bool(mask[z].all())
        for d, (dy, dx) in enumerate(IN_PLANE_OFFSETS):
            out[z, d] = _pair_counts(codes[z], mask[z], full_mask, n_levels, (dy * distance, dx * distance))
    return out


def glcm_features(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    levels: int | None = None,
    distance: int = 1,
    aggregation: str = "averaged",
) -> dict[str, float]:
    """All 25 IBSI GLCM features of a 2D image or a stack of slices.

    Parameters
    ----------
    image : ndarray, (rows, cols) or (slices, rows, cols)
        Grey levels 1..Ng when ``levels`` is None, otherwise any real intensities.
    mask : ndarray of bool, same shape, optional
        Region of interest; only pairs with both pixels inside count. Default: the whole image.
    levels : int, optional
        None: ``image`` holds integer grey levels (Ng = the largest level in the mask). An integer:
        IBSI fixed bin number discretisation of the masked min-max range into that many levels.
    distance : int
        Chebyshev distance between the pixels of a pair (IBSI default 1).
    aggregation : {"averaged", "slice_merged"}
        IBSI "2D, averaged" or "2D, slice-merged" (see module docstring).

    Returns
    -------
    dict
        ``glcm_<IBSI name>`` -> value, e.g. ``glcm_joint_maximum``; entropies in bits.

    Raises
    ------
    ValueError
        Bad shapes, empty mask, NaN in the mask, non-integer grey levels with ``levels=None``, or a
        mask without any pixel pair at ``distance``.
    """
    if aggregation not in _AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {_AGGREGATIONS}, got {aggregation!r}")
    matrices = glcm_matrices(image, mask, levels=levels, distance=distance)
    if aggregation == "slice_merged":
        matrices = matrices.sum(axis=1, keepdims=True)
    stack = matrices.reshape(-1, *matrices.shape[-2:])
    stack = stack[stack.sum(axis=(1, 2)) > 0]
    if len(stack) == 0:
        raise ValueError(f"no pair of neighbouring pixels (distance {distance}) lies inside the mask")
    values = features_from_matrices(stack)
    return {f"glcm_{name}": float(values[name].mean()) for name in GLCM_FEATURES}
