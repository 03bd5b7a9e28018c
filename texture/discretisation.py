"""IBSI grey-level discretisation and the slice/direction helpers shared by the texture families.

Every texture family (``glcm``, ``glrlm``, ``glszm``, ``gldzm``, ``ngtdm``, ``ngldm``, ``firstorder``)
validates its input and discretises it here, so they all agree on what a grey level is:

- ``levels=None``: the image already holds integer grey levels 1..Ng inside the mask (the IBSI
  convention for pre-discretised images such as the digital phantom); Ng is the largest level present.
- ``levels=N``: IBSI fixed bin number (FBN) over the masked min-max range,
  ``g = floor(N (x - min) / (max - min)) + 1`` with ``x = max`` put in level N (IBSI reference manual,
  section 2.7, "fixed bin number"). An 8-bit image spanning 0..255 with ``levels=256`` therefore gets
  ``g = x + 1``. A constant ROI gets level 1 everywhere.

Stacks are (slices, rows, cols); 2D images are treated as a stack of one slice. The IBSI "2D"
texture aggregations use the slices independently, with the 4 in-plane directions below.
"""

from __future__ import annotations

import cv2
import numpy as np

from texture._compat import positional_deprecated

#: The 4 in-plane (row, col) offsets of IBSI 2D texture matrices, with rows going down on screen:
#: 0 deg (right), 45 deg (up-right), 90 deg (up), 135 deg (up-left). Their opposites are covered by
#: the symmetric matrices / undirected runs.
IN_PLANE_OFFSETS: tuple[tuple[int, int], ...] = ((0, 1), (-1, 1), (-1, 0), (-1, -1))

#: The 13 (slice, row, col) offsets of IBSI 3D texture matrices: one of each opposite pair of the
#: 26 neighbours at Chebyshev distance 1.
VOLUME_OFFSETS: tuple[tuple[int, int, int], ...] = tuple(
    (dz, dy, dx) for dz in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dz, dy, dx) > (0, 0, 0)
)


def validate_stack(image: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(image, mask)`` as 3D (slices, rows, cols) arrays after checking them.

    Raises ``ValueError`` for a wrong number of dimensions, a mask of another shape, an empty mask,
    a non-numeric image, or non-finite values inside the mask.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be 2D (rows, cols) or 3D (slices, rows, cols), got {image.shape}")
    if image.dtype.kind not in "uifb":
        raise ValueError(f"image must be numeric, got dtype {image.dtype}")
    if image.dtype.kind == "b":
        image = image.astype(np.uint8)
    if mask is None:
        mask = np.ones(image.shape, dtype=bool)
    else:
        mask = np.asarray(mask)
        if mask.shape != image.shape:
            raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape}")
        mask = mask.astype(bool, copy=False)
    if not mask.any():
        raise ValueError("mask is empty: no pixel to measure")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        if not np.isfinite(image[mask]).all():
            raise ValueError("image has NaN or infinite values inside the mask")
    if image.ndim == 2:
        image, mask = image[None], mask[None]
    return image, mask


#: IBSI texture-matrix aggregations -> the axes of a (slices, directions, ...) matrix array that
#: are summed before computing features (features of the remaining matrices are then averaged):
#: "averaged" = IBSI "2D, averaged" (or plain "2D" for the direction-free families),
#: "slice_merged" = "2D, slice-merged", "direction_merged" = "2.5D, direction-merged",
#: "merged" = "2.5D, merged" (or plain "2.5D" for the direction-free families). The 3D
#: aggregations use one (1, directions, ...) volume array: "3d_averaged" averages over its
#: directions, "3d_merged" (or plain "3d") sums them.
MERGED_AXES: dict[str, tuple[int, ...]] = {
    "averaged": (),
    "slice_merged": (1,),
    "direction_merged": (0,),
    "merged": (0, 1),
    "3d_averaged": (),
    "3d_merged": (0, 1),
    "3d": (0, 1),
}


def check_aggregation(aggregation: str, allowed: tuple[str, ...]) -> None:
    if aggregation not in allowed:
        raise ValueError(f"aggregation must be one of {allowed}, got {aggregation!r}")


def texture_blocks(
    grey: np.ndarray, mask: np.ndarray, aggregation: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The arrays a direction-free family builds one matrix from: each slice, or (``"3d"``) the
    whole (slices, rows, cols) volume. Pairs ``(grey, mask)``."""
    if aggregation == "3d":
        return [(grey, mask)]
    return list(zip(grey, mask, strict=True))


def aggregate_matrices(matrices: np.ndarray, aggregation: str) -> np.ndarray:
    """Sum a (slices, directions, ...) array over the axes ``aggregation`` merges.

    Returns the matrices to compute features on, stacked along the first axis.
    """
    merged = matrices.sum(axis=MERGED_AXES[aggregation], keepdims=True)
    return merged.reshape(-1, *matrices.shape[2:])


def _masked_values(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return image.reshape(-1) if mask.all() else image[mask]


def _code_dtype(n_levels: int) -> type:
    if n_levels <= 256:
        return np.uint8
    if n_levels <= 65536:
        return np.uint16
    return np.int64


#: Largest Ng the matrix families accept (a 65536-level 16-bit image would need a 32 GB GLCM).
MAX_MATRIX_LEVELS = 4096


def _place(inside_codes: np.ndarray, mask: np.ndarray, dtype: type) -> np.ndarray:
    """Codes computed for the masked values, put back into an image (0 outside the mask)."""
    if inside_codes.size == mask.size:
        return inside_codes.astype(dtype, copy=False).reshape(mask.shape)
    out = np.zeros(mask.shape, dtype=dtype)
    out[mask] = inside_codes
    return out


@positional_deprecated("mask", "levels")
def discretise(
    image: np.ndarray, *, mask: np.ndarray, levels: int | None, max_levels: int | None = None
) -> tuple[np.ndarray, int]:
    """Discretise ``image`` inside ``mask`` into IBSI grey levels.

    Parameters
    ----------
    image, mask : ndarray
        Same shape; ``mask`` boolean and not empty (see :func:`validate_stack`).
    levels : int or None
        ``None``: the image holds integer grey levels >= 1 inside the mask. An integer: IBSI fixed
        bin number discretisation of the masked min-max range into that many levels.
    max_levels : int, optional
        Raise ``ValueError`` when Ng would exceed it (the matrix families pass
        :data:`MAX_MATRIX_LEVELS`).

    Returns
    -------
    codes : ndarray
        Zero-based grey levels (grey level - 1), dtype ``uint8`` when Ng <= 256. Values outside the
        mask are meaningless (0); always use them together with ``mask``.
    n_levels : int
        Ng, the number of grey levels used by the feature formulas (``levels``, or the largest
        grey level present when ``levels`` is None).
    """
    values = _masked_values(image, mask)
    if levels is None:
        if image.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
            raise ValueError(
                "levels=None needs integer grey levels 1..Ng inside the mask; "
                "pass levels=N to discretise a continuous image"
            )
        lo, hi = values.min(), values.max()
        if lo < 1:
            raise ValueError(f"levels=None needs grey levels >= 1 inside the mask, found {lo}")
        n_levels = int(hi)
        _check_levels(n_levels, max_levels)
        dtype = _code_dtype(n_levels)
        if image.dtype == dtype:
            return image - np.asarray(1, dtype=dtype), n_levels  # wraps outside the mask only
        return _place(values - 1, mask, dtype), n_levels

    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1:
        raise ValueError(f"levels must be None or a positive integer, got {levels!r}")
    n_levels = int(levels)
    _check_levels(n_levels, max_levels)
    dtype = _code_dtype(n_levels)
    lo, hi = values.min(), values.max()
    if lo == hi:
        return np.zeros(image.shape, dtype=dtype), n_levels

    def fixed_bin_number(x: np.ndarray) -> np.ndarray:
        scaled = np.floor(n_levels * ((x.astype(np.float64) - float(lo)) / (float(hi) - float(lo))))
        return np.clip(scaled, 0, n_levels - 1).astype(dtype)

    if image.dtype.kind in "ui" and int(hi) - int(lo) <= 65535:
        # Integer images: evaluate the same formula once per possible value, then look it up.
        table = fixed_bin_number(np.arange(int(lo), int(hi) + 1))
        if image.dtype == dtype and int(lo) == 0 and np.array_equal(table, np.arange(len(table))):
            return image, n_levels  # e.g. 8-bit 0..255 into 256 levels: code = value
        if image.dtype == np.uint8 and dtype == np.uint8:
            full = np.zeros(256, dtype=np.uint8)
            full[int(lo) : int(hi) + 1] = table
            flat = image.reshape(-1, image.shape[-1])
            return cv2.LUT(flat, full).reshape(image.shape), n_levels
        index = np.clip(image.astype(np.int64) - int(lo), 0, len(table) - 1)
        return table[index], n_levels
    return _place(fixed_bin_number(values), mask, dtype), n_levels


def _check_levels(n_levels: int, max_levels: int | None) -> None:
    if max_levels is not None and n_levels > max_levels:
        raise ValueError(
            f"{n_levels} grey levels is more than the {max_levels} a texture matrix supports; "
            "discretise with levels=N (e.g. 32-256)"
        )


def grey_level_image(codes: np.ndarray, mask: np.ndarray, *, n_levels: int | None = None) -> np.ndarray:
    """One-based grey levels with 0 outside the mask (for the zone/run families).

    dtype ``int64``; given ``n_levels`` (Ng), the smallest unsigned type that holds 0..Ng
    (``uint8`` up to 255 levels): the run and neighbourhood families stream the image several
    times, and a 1-byte image moves 8x fewer bytes.
    """
    if n_levels is None:
        return np.where(mask, codes.astype(np.int64) + 1, 0)
    dtype = np.uint8 if n_levels < 256 else np.uint16 if n_levels < 65536 else np.int64
    grey = codes.astype(dtype) + dtype(1)
    if not mask.all():
        grey[~mask] = 0
    return grey


def shifted_pair_views(array: np.ndarray, offset: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Views ``(a, b)`` of an n-D array such that ``b[p]`` is ``a[p]``'s neighbour at ``offset``.

    Both empty along an axis the offset spans entirely (the stops are clamped at 0: a negative
    stop would count from the end and give views of different sizes).
    """
    a = tuple(slice(max(0, -o), max(0, n - max(0, o))) for o, n in zip(offset, array.shape, strict=True))
    b = tuple(slice(max(0, o), max(0, n + min(0, o))) for o, n in zip(offset, array.shape, strict=True))
    return array[a], array[b]


def line_stream(grey: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """Every straight line of a 2D array along an in-plane direction, concatenated into one 1D array.

    ``grey`` holds 1-based grey levels with 0 outside the mask; the stream starts and ends with a
    0 and lines are separated by at least one 0, so that runs of equal non-zero values in the
    result are exactly the runs along the direction. Used by the run-length family. The result has
    ``grey``'s dtype (a uint8 grey image streams 8x fewer bytes than int64).
    """
    dy, dx = offset
    if (dy, dx) == (0, 1):
        lines = grey
    elif (dy, dx) == (-1, 0):
        lines = grey.T
    elif (dy, dx) in ((-1, -1), (-1, 1)):
        # Skew so that each anti-diagonal (constant row + col) becomes one column: rows padded with
        # zeros to length rows + cols and re-read with rows one element shorter shift row r right
        # by r (the padding fills the gaps). Mirrored columns turn diagonals into anti-diagonals.
        source = grey if (dy, dx) == (-1, 1) else grey[:, ::-1]
        rows, cols = source.shape
        padded = np.zeros((rows, rows + cols), dtype=source.dtype)
        padded[:, :cols] = source
        lines = padded.reshape(-1)[: rows * (rows + cols - 1)].reshape(rows, rows + cols - 1).T
    else:
        raise ValueError(f"unsupported in-plane offset {offset}")
    n_lines, length = lines.shape
    stream = np.zeros(n_lines * (length + 1) + 1, dtype=lines.dtype)
    stream[1:].reshape(n_lines, length + 1)[:, :length] = lines
    return stream


def volume_line_stream(grey: np.ndarray, offset: tuple[int, ...]) -> np.ndarray:
    """As :func:`line_stream` for any array and offset, e.g. the 13 directions through a volume.

    Gathers every line from its first voxel (the voxels whose predecessor ``p - offset`` lies
    outside the array); memory is (number of lines) x (longest side), fine for ROI-sized volumes.
    """
    shape = np.array(grey.shape)
    step = np.array(offset)
    coords = np.indices(grey.shape).reshape(grey.ndim, -1).T
    previous = coords - step
    starts = coords[~((previous >= 0) & (previous < shape)).all(axis=1)]
    length = int(shape.max())
    points = starts[:, None, :] + np.arange(length)[None, :, None] * step
    inside = ((points >= 0) & (points < shape)).all(axis=-1)
    lines = np.zeros((len(starts), length + 1), dtype=grey.dtype)
    lines[:, :length][inside] = grey[tuple(points[inside].T)]
    return lines.reshape(-1)


#: Generic names of the features shared by the grey level x size matrices (run length, zone size,
#: zone distance, dependence count), in IBSI order; each family maps them onto its IBSI names.
SIZE_MATRIX_FEATURES: tuple[str, ...] = (
    "small_emphasis",
    "large_emphasis",
    "low_grey_emphasis",
    "high_grey_emphasis",
    "small_low_grey_emphasis",
    "small_high_grey_emphasis",
    "large_low_grey_emphasis",
    "large_high_grey_emphasis",
    "grey_non_uniformity",
    "normalised_grey_non_uniformity",
    "size_non_uniformity",
    "normalised_size_non_uniformity",
    "percentage",
    "grey_variance",
    "size_variance",
    "entropy",
    "energy",
)


def size_matrix_features(
    matrix: np.ndarray, n_units: float, sizes: np.ndarray | None = None
) -> dict[str, float]:
    """Features of an IBSI grey level x size matrix ``matrix[i - 1, column]`` (IBSI sections 3.7-3.11).

    Rows are grey levels i = 1..Ng, columns the run length / zone size / zone distance /
    dependence count j: 1, 2, ... or, when given, ``sizes[column]`` (so that a zone size matrix
    needs a column per size present, not per possible size). ``n_units`` is the number of voxels
    (times directions for merged run matrices) for the percentage feature. Entropy in bits.
    Keys: :data:`SIZE_MATRIX_FEATURES`.
    """
    total = matrix.sum()
    p = matrix / total
    i = np.arange(1, matrix.shape[0] + 1, dtype=np.float64)[:, None]
    if sizes is None:
        sizes = np.arange(1, matrix.shape[1] + 1)
    j = np.asarray(sizes, dtype=np.float64)[None, :]
    p_grey = p.sum(axis=1)
    p_size = p.sum(axis=0)
    mean_grey = float(p_grey @ i[:, 0])
    mean_size = float(p_size @ j[0])
    nz = p[p > 0]
    return {
        "small_emphasis": float((p / j**2).sum()),
        "large_emphasis": float((p * j**2).sum()),
        "low_grey_emphasis": float((p / i**2).sum()),
        "high_grey_emphasis": float((p * i**2).sum()),
        "small_low_grey_emphasis": float((p / (i**2 * j**2)).sum()),
        "small_high_grey_emphasis": float((p * i**2 / j**2).sum()),
        "large_low_grey_emphasis": float((p * j**2 / i**2).sum()),
        "large_high_grey_emphasis": float((p * i**2 * j**2).sum()),
        "grey_non_uniformity": float((p_grey**2).sum() * total),
        "normalised_grey_non_uniformity": float((p_grey**2).sum()),
        "size_non_uniformity": float((p_size**2).sum() * total),
        "normalised_size_non_uniformity": float((p_size**2).sum()),
        "percentage": float(total / n_units),
        "grey_variance": float(((i[:, 0] - mean_grey) ** 2) @ p_grey),
        "size_variance": float(((j[0] - mean_size) ** 2) @ p_size),
        "entropy": float(-(nz * np.log2(nz)).sum()),
        "energy": float((p**2).sum()),
    }


def slice_average(per_slice: list[dict[str, float]]) -> dict[str, float]:
    """Mean of per-slice (or per slice and direction) feature dicts (IBSI 2D aggregation)."""
    return {key: float(np.mean([f[key] for f in per_slice])) for key in per_slice[0]}
