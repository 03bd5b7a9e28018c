"""Align a follow-up photo to its baseline so that the same skin is measured in both.

Method (:func:`register_to_baseline`):

1. Both images to grey (CIELAB L*, float) on a working copy at most ``work_size`` pixels on the long side,
   contrast-equalised (CLAHE) so that an exposure change moves no feature.
2. SIFT keypoints (Lowe 2004; ORB on request) matched by brute force with Lowe's ratio test (0.75).
3. A similarity transform (rotation, uniform scale, shift: what moves between two hand-held follow-up
   photos) fitted by RANSAC (``cv2.estimateAffinePartial2D``, 3 px threshold at working scale).
4. Refined by ECC image alignment (Evangelidis & Psarakis 2008, ``cv2.findTransformECCWithMask``) on a
   coarser L* copy (``ecc_size``) high-passed (minus its Gaussian local mean, sigma 4 px) so that uneven
   lighting does not pull it, affine motion, started from the RANSAC estimate, with pure-black pixels
   (padding of an already-warped image) masked out. ECC maximises a correlation coefficient, so it is also
   blind to a global exposure (gain and offset) change. The refinement is kept only when it converges, stays a
   near-similarity (singular values within 10 %; then projected onto the nearest similarity unless
   ``similarity_only=False``), moves the image by at most ``max_refinement_px`` and
   does not raise the keypoints' median residual by more than 0.5 px; otherwise the RANSAC estimate is
   kept and ``message`` says so.

Only affine (similarity + small shear) transforms are modelled, not homographies: follow-up photos of the
same region from roughly the same distance differ mostly by rotation, shift and scale, and the overlap
metrics need no more.

Every step can fail; then ``success`` is False and ``message`` says why: too few RANSAC inliers, an
implausible rotation or scale, or too little overlap. A failed registration is never warped silently
(:func:`warp_to_baseline` raises).

Coordinates are OpenCV's: (x, y) = (column, row) of pixel centres in the full-resolution images.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.color import rgb2lab

from texture.measurement import check_mask

__all__ = ["Registration", "register_to_baseline", "warp_to_baseline", "common_overlap"]


@dataclass
class Registration:
    """The result of :func:`register_to_baseline`.

    Attributes
    ----------
    matrix : ndarray (2, 3)
        Affine map from follow-up (moving) pixel coordinates (x, y) to baseline pixel coordinates (full
        resolution): ``[x_b, y_b] = matrix @ [x_m, y_m, 1]``. Identity when registration failed.
    error_px : float
        Residual alignment error in baseline pixels: the median distance between each RANSAC-inlier
        baseline keypoint and its matched follow-up keypoint mapped through ``matrix``. It includes the
        keypoints' own localisation noise (typically 0.2-0.5 px), so it is an upper bound on the
        misalignment of the textured skin. NaN when registration failed before a transform existed.
    n_inliers : int
        Keypoint matches consistent with the RANSAC transform.
    success : bool
    message : str
        What was done, or why it failed.
    ecc_correlation : float
        Enhanced correlation coefficient (0-1) of the refined alignment; NaN when ECC was not run or not
        kept.
    refinement_px : float
        RMS displacement (baseline pixels, over a grid on the baseline) between the RANSAC transform and the
        final one: how much ECC moved the image.
    """

    matrix: np.ndarray
    error_px: float
    n_inliers: int
    success: bool
    message: str
    ecc_correlation: float = float("nan")
    refinement_px: float = 0.0

    @property
    def rotation_deg(self) -> float:
        """Rotation of the follow-up content needed to match the baseline, degrees counter-clockwise on
        screen (rows go down, so this is the negative of the matrix's mathematical angle)."""
        return float(-np.degrees(np.arctan2(self.matrix[1, 0], self.matrix[0, 0])))

    @property
    def scale(self) -> float:
        """Mean linear scale factor from follow-up to baseline pixels."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))


def _check_image(image: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(image)
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"{name} must be grey (rows, cols) or RGB (rows, cols, 3), got shape {arr.shape}")
    if min(arr.shape[:2]) < 16:
        raise ValueError(f"{name} is too small to register (shape {arr.shape})")
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _grey_at(image: np.ndarray, scale: float) -> np.ndarray:
    """Downscale first (cheap on a 12-megapixel photo), then take L* / 100 of RGB; grey stays as is."""
    small = _resize(image, scale)
    if small.ndim == 3:
        return (rgb2lab(np.clip(small, 0.0, 1.0))[..., 0] / 100.0).astype(np.float32)
    return small.astype(np.float32)


def _scale_matrix(s: float) -> np.ndarray:
    # Resizing by s maps pixel centres x -> (x + 0.5) s - 0.5 (cv2.resize's convention).
    return np.array([[s, 0.0, 0.5 * s - 0.5], [0.0, s, 0.5 * s - 0.5], [0.0, 0.0, 1.0]])


def _h(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix[:2], [0.0, 0.0, 1.0]])


def _resize(image: np.ndarray, scale: float, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    if scale == 1.0:
        return image
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)


def _to_uint8(grey: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    values = grey[mask] if mask is not None and mask.any() else grey
    lo, hi = np.percentile(values, [0.5, 99.5])
    scaled = np.clip((grey - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    return clahe.apply(np.round(scaled * 255).astype(np.uint8))


def _features(grey8: np.ndarray, mask: np.ndarray | None, detector: str, max_features: int):
    if detector == "sift":
        engine = cv2.SIFT_create(nfeatures=max_features)
        norm = cv2.NORM_L2
    else:
        engine = cv2.ORB_create(nfeatures=max_features)
        norm = cv2.NORM_HAMMING
    mask8 = None if mask is None else mask.astype(np.uint8)
    keypoints, descriptors = engine.detectAndCompute(grey8, mask8)
    return keypoints, descriptors, norm


def _grid_rms(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> float:
    """RMS distance between two 2x3 maps applied to a 10 x 10 grid spanning an image of ``shape``."""
    ys, xs = np.meshgrid(np.linspace(0, shape[0] - 1, 10), np.linspace(0, shape[1] - 1, 10))
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    return float(np.sqrt(np.mean(np.sum((a[:2] @ pts - b[:2] @ pts) ** 2, axis=0))))


_HIGH_PASS_SIGMA = 4.0
_HIGH_PASS_REACH = 14  # pixels a black edge influences: 3 sigma of the high-pass + ECC's 5 x 5 blur


def _high_pass(grey: np.ndarray) -> np.ndarray:
    return grey - cv2.GaussianBlur(grey, (0, 0), _HIGH_PASS_SIGMA, borderType=cv2.BORDER_REFLECT)


def _nearest_similarity(matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The similarity transform closest (least squares over a grid on the baseline) to an affine one."""
    ys, xs = np.meshgrid(np.linspace(0, shape[0] - 1, 10), np.linspace(0, shape[1] - 1, 10))
    dst = np.stack([xs.ravel(), ys.ravel()], axis=1)
    inverse = np.linalg.inv(_h(matrix))[:2]
    src = dst @ inverse[:, :2].T + inverse[:, 2]
    # Umeyama (1991) without reflection: dst ~ s R src + t.
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    cs, cd = src - mu_s, dst - mu_d
    a = np.sum(cs[:, 0] * cd[:, 0] + cs[:, 1] * cd[:, 1])
    b = np.sum(cs[:, 0] * cd[:, 1] - cs[:, 1] * cd[:, 0])
    norm = np.sum(cs**2)
    c, s_ = a / norm, b / norm
    rot = np.array([[c, -s_], [s_, c]])
    return np.hstack([rot, (mu_d - rot @ mu_s)[:, None]])


def _failed(message: str, n_inliers: int = 0, error_px: float = float("nan")) -> Registration:
    return Registration(
        matrix=np.eye(2, 3), error_px=error_px, n_inliers=n_inliers, success=False, message=message
    )


def register_to_baseline(
    moving: np.ndarray,
    baseline: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    moving_mask: np.ndarray | None = None,
    max_features: int = 2000,
    refine: bool = True,
    detector: str = "sift",
    work_size: int = 1024,
    ecc_size: int = 512,
    min_inliers: int = 20,
    max_rotation_deg: float = 45.0,
    scale_range: tuple[float, float] = (0.5, 2.0),
    min_overlap_fraction: float = 0.3,
    max_refinement_px: float | None = None,
    similarity_only: bool = True,
) -> Registration:
    """Find the similarity/affine transform taking a follow-up photo onto its baseline.

    See the module docstring for the method. Inputs are float RGB in [0, 1] or float grey images (any
    range); they may differ in size.

    Parameters
    ----------
    moving : ndarray
        The follow-up photo.
    baseline : ndarray
        The baseline photo (the reference frame).
    mask : ndarray of bool, optional
        Baseline pixels to align on (the skin region: leave out background, hair, a colour chart).
    moving_mask : ndarray of bool, optional
        The same for the follow-up. Give both when something moves independently of the skin (a colour
        chart held elsewhere): masking only one side leaves the other's chart to pull the ECC refinement.
    max_features : int
        Keypoints kept per image.
    refine : bool
        Refine the RANSAC transform by ECC.
    detector : {"sift", "orb"}
    work_size : int
        Long side (pixels) of the working copies the keypoints are found on.
    ecc_size : int
        Long side (pixels) of the coarser copies ECC refines on (it is the slow step; its sub-pixel
        precision at this scale is ample for photos a few thousand pixels wide).
    min_inliers : int
        Fewer RANSAC inliers than this is a failure (unrelated images give a handful by chance).
    max_rotation_deg : float
        Larger rotations are implausible for follow-up photos (already EXIF-upright) and fail.
    scale_range : (float, float)
        Plausible follow-up-to-baseline scale factors.
    min_overlap_fraction : float
        Minimum fraction of the baseline (or its mask) the aligned follow-up must cover.
    max_refinement_px : float, optional
        ECC may move the image by at most this RMS distance from the RANSAC estimate (baseline pixels);
        default 4 x the RANSAC estimate's keypoint residual, at least 2 px. ECC is also rejected when it
        raises the median keypoint residual by more than 0.5 px: it refines, it must not overrule
        hundreds of consistent matches.
    similarity_only : bool
        Replace the ECC affine result by its nearest similarity transform (least squares over a grid):
        follow-up photos differ by rotation, shift and scale, and the extra shear freedom only lets
        ECC fit noise or something moving in the scene.

    Returns
    -------
    Registration
    """
    if detector not in ("sift", "orb"):
        raise ValueError(f"detector must be 'sift' or 'orb', got {detector!r}")
    image_m = _check_image(moving, "moving")
    image_b = _check_image(baseline, "baseline")
    base_mask = None if mask is None else check_mask(mask, image_b.shape[:2])
    if base_mask is not None and not base_mask.any():
        raise ValueError("mask selects no pixels")
    move_mask = (
        None if moving_mask is None else check_mask(moving_mask, image_m.shape[:2], name="moving_mask")
    )
    if move_mask is not None and not move_mask.any():
        raise ValueError("moving_mask selects no pixels")
    s_m = min(1.0, work_size / max(image_m.shape[:2]))
    s_b = min(1.0, work_size / max(image_b.shape[:2]))
    work_m, work_b = _grey_at(image_m, s_m), _grey_at(image_b, s_b)
    work_mask = None
    if base_mask is not None:
        work_mask = _resize(base_mask.astype(np.uint8), s_b, cv2.INTER_NEAREST).astype(bool)
    work_mask_m = None
    if move_mask is not None:
        work_mask_m = _resize(move_mask.astype(np.uint8), s_m, cv2.INTER_NEAREST).astype(bool)

    kp_m, des_m, norm = _features(_to_uint8(work_m, work_mask_m), work_mask_m, detector, max_features)
    kp_b, des_b, _ = _features(_to_uint8(work_b, work_mask), work_mask, detector, max_features)
    if des_m is None or des_b is None or len(kp_m) < 3 or len(kp_b) < 3:
        return _failed("registration failed: too few keypoints (featureless image?)")
    pairs = cv2.BFMatcher(norm).knnMatch(des_m, des_b, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < max(min_inliers, 3):
        return _failed(
            f"registration failed: {len(good)} distinctive keypoint matches, fewer than {min_inliers}"
        )
    src = np.float32([kp_m[g.queryIdx].pt for g in good])
    dst = np.float32([kp_b[g.trainIdx].pt for g in good])
    work_matrix, inliers = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0, maxIters=5000, confidence=0.999
    )
    n_inliers = 0 if inliers is None else int(inliers.sum())
    if work_matrix is None or n_inliers < min_inliers:
        return _failed(
            f"registration failed: {n_inliers} RANSAC inliers, fewer than {min_inliers} "
            "(not the same skin, or too little texture)",
            n_inliers,
        )
    # Full-resolution moving -> baseline.
    feature_matrix = (np.linalg.inv(_scale_matrix(s_b)) @ _h(work_matrix) @ _scale_matrix(s_m))[:2]
    inl = inliers.ravel().astype(bool)
    pts_m = (src[inl].astype(np.float64) + 0.5) / s_m - 0.5
    pts_b = (dst[inl].astype(np.float64) + 0.5) / s_b - 0.5

    def residual(matrix: np.ndarray) -> float:
        mapped = pts_m @ matrix[:, :2].T + matrix[:, 2]
        return float(np.median(np.linalg.norm(mapped - pts_b, axis=1)))

    candidate = Registration(feature_matrix, residual(feature_matrix), n_inliers, True, "")
    if not scale_range[0] <= candidate.scale <= scale_range[1]:
        return _failed(
            f"registration failed: implausible scale {candidate.scale:.3g} outside {scale_range}",
            n_inliers,
            candidate.error_px,
        )
    if abs(candidate.rotation_deg) > max_rotation_deg:
        return _failed(
            f"registration failed: implausible rotation {candidate.rotation_deg:.1f} deg "
            f"(limit {max_rotation_deg:g})",
            n_inliers,
            candidate.error_px,
        )

    final_matrix, notes, ecc_rho, moved = feature_matrix, [], float("nan"), 0.0
    if refine:
        if max_refinement_px is None:
            max_refinement_px = max(2.0, 4.0 * candidate.error_px)
        e_m = min(1.0, ecc_size / max(image_m.shape[:2]))
        e_b = min(1.0, ecc_size / max(image_b.shape[:2]))
        ecc_m, ecc_b = _grey_at(image_m, e_m), _grey_at(image_b, e_b)
        # Pure black (zero padding of an already-warped image, clipped shadow) carries no alignment
        # information and would pull ECC towards the padding's edge.
        template_mask = (ecc_b != 0).astype(np.uint8)
        if base_mask is not None:
            template_mask &= _resize(base_mask.astype(np.uint8), e_b, cv2.INTER_NEAREST)
        input_mask = (ecc_m != 0).astype(np.uint8)
        if move_mask is not None:
            input_mask &= _resize(move_mask.astype(np.uint8), e_m, cv2.INTER_NEAREST)
        # Flash position and skin curvature shade the photos differently; ECC is only blind to a global
        # gain and offset, so it aligns the texture: L* minus its local mean (Gaussian, sigma 4 px).
        ecc_b, ecc_m = _high_pass(ecc_b), _high_pass(ecc_m)
        # Keep the comparison windows (high-pass and ECC's own 5 x 5 blur) clear of the black.
        kernel = np.ones((2 * _HIGH_PASS_REACH + 1, 2 * _HIGH_PASS_REACH + 1), np.uint8)
        template_mask = cv2.erode(template_mask, kernel)
        input_mask = cv2.erode(input_mask, kernel)
        try:
            # ECC's warp maps template (baseline) coordinates to input (moving) coordinates.
            init = _scale_matrix(e_m) @ np.linalg.inv(_h(feature_matrix)) @ np.linalg.inv(_scale_matrix(e_b))
            # The start is already within a pixel or so: a few dozen iterations converge.
            criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 60, 1e-5)
            ecc_rho, warp = cv2.findTransformECCWithMask(
                ecc_b,
                ecc_m,
                template_mask,
                input_mask,
                init[:2].astype(np.float32),
                cv2.MOTION_AFFINE,
                criteria,
                5,
            )
            ecc_full = np.linalg.inv(
                np.linalg.inv(_scale_matrix(e_m)) @ _h(warp.astype(np.float64)) @ _scale_matrix(e_b)
            )[:2]
            singular = np.linalg.svd(ecc_full[:, :2], compute_uv=False)
            if similarity_only:
                ecc_full = _nearest_similarity(ecc_full, image_b.shape[:2])
            moved = _grid_rms(ecc_full, feature_matrix, image_b.shape[:2])
            if singular[0] / singular[1] > 1.1:
                notes.append("ECC refinement rejected (shear: not a similarity)")
                ecc_rho = float("nan")
            elif moved > max_refinement_px:
                notes.append(f"ECC refinement rejected (moved {moved:.1f} px from the feature estimate)")
                ecc_rho = float("nan")
            elif residual(ecc_full) > candidate.error_px + 0.5:
                notes.append("ECC refinement rejected (it misplaces the matched keypoints)")
                ecc_rho = float("nan")
            else:
                final_matrix = ecc_full
        except cv2.error:
            notes.append("ECC refinement did not converge; feature estimate kept")
            ecc_rho = float("nan")
        if np.isnan(ecc_rho):
            moved = 0.0

    # Overlap: fraction of the baseline (mask) covered by the warped follow-up, at working scale.
    work_final = _scale_matrix(s_b) @ _h(final_matrix) @ np.linalg.inv(_scale_matrix(s_m))
    cover = cv2.warpAffine(
        np.ones(work_m.shape, np.uint8),
        work_final[:2],
        (work_b.shape[1], work_b.shape[0]),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).astype(bool)
    region = np.ones(work_b.shape, bool) if work_mask is None else work_mask
    overlap = float(cover[region].mean())
    error_px = residual(final_matrix)
    if overlap < min_overlap_fraction:
        return _failed(
            f"registration failed: the aligned follow-up covers {overlap:.0%} of the baseline "
            f"(minimum {min_overlap_fraction:.0%})",
            n_inliers,
            error_px,
        )
    result = Registration(final_matrix, error_px, n_inliers, True, "", float(ecc_rho), moved)
    method = "features + ECC" if not np.isnan(ecc_rho) else "features"
    result.message = "; ".join(
        [
            f"registered ({method}): {n_inliers} inliers, rotation {result.rotation_deg:.2f} deg, "
            f"scale {result.scale:.4f}, residual {error_px:.2f} px, overlap {overlap:.0%}",
            *notes,
        ]
    )
    return result


def warp_to_baseline(
    image: np.ndarray, registration: Registration, *, output_shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a follow-up image (grey, RGB or a label/mask as float) into the baseline's pixel grid.

    Bilinear interpolation (``cv2.warpAffine``); pixels that fall outside the follow-up are 0.

    Parameters
    ----------
    image : ndarray (rows, cols) or (rows, cols, channels)
    registration : Registration
        Must be successful, otherwise ``ValueError`` (a failed alignment is never warped silently).
    output_shape : tuple
        The baseline's shape; only (rows, cols) is used.

    Returns
    -------
    warped : ndarray, float64
    valid_mask : ndarray of bool (rows, cols)
        Pixels whose bilinear neighbourhood lies entirely inside the follow-up image.
    """
    if not registration.success:
        raise ValueError(f"cannot warp with a failed registration: {registration.message}")
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ValueError(f"image must be (rows, cols) or (rows, cols, channels), got shape {arr.shape}")
    rows, cols = int(output_shape[0]), int(output_shape[1])
    if rows < 1 or cols < 1:
        raise ValueError(f"output_shape must be positive, got {output_shape}")
    arr = arr.astype(np.float64, copy=False)
    matrix = np.asarray(registration.matrix, dtype=np.float64)
    warped = cv2.warpAffine(
        arr, matrix, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    if arr.ndim == 3 and warped.ndim == 2:  # OpenCV drops a single channel axis
        warped = warped[..., None]
    support = cv2.warpAffine(
        np.ones(arr.shape[:2], np.float32),
        matrix,
        (cols, rows),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return warped, support >= 1.0 - 1e-4


def common_overlap(
    valid_mask: np.ndarray, *, baseline_mask: np.ndarray | None = None, margin_px: int = 2
) -> np.ndarray:
    """Pixels measured in both photos: the warped follow-up's ``valid_mask`` and the baseline's own mask,
    eroded by ``margin_px`` so that interpolation at the follow-up's edge does not reach the metrics."""
    valid = np.asarray(valid_mask, dtype=bool)
    if valid.ndim != 2:
        raise ValueError(f"valid_mask must be 2-D, got shape {valid.shape}")
    overlap = valid & check_mask(baseline_mask, valid.shape, name="baseline_mask")
    if margin_px > 0:
        # cv2.erode's default border leaves the image edge alone: only the follow-up's edge is eroded.
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * margin_px + 1, 2 * margin_px + 1))
        overlap = cv2.erode(overlap.astype(np.uint8), kernel).astype(bool)
    return overlap
