"""Benchmark: IBSI GLCM features vs scikit-image, and sliding-window GLCM maps.

Run ``python3 benchmarks/glcm.py``. Prints best-of-N wall times and ratios measured in this process:

1. ``glcm_features`` (all 25 IBSI features, 4 directions, 256 levels) on a 2048x2048 8-bit image vs
   scikit-image ``graycomatrix`` (4 angles, symmetric, normed) + ``graycoprops`` for its 6
   properties. Goal: ratio <= 0.7.
2. ``glcm_map`` (15x15 window, 32 levels) on the same image, direction-averaged and slice-merged,
   all 18 supported features and a typical 3, as ratios to (1) and to scikit-image's time.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from skimage.feature import graycomatrix, graycoprops

from texture.glcm import GLCM_MAP_FEATURES, glcm_features, glcm_map

try:
    from benchmarks._report import result
except ImportError:  # run as a script
    from _report import result

SIZE = 2048
SKIMAGE_PROPS = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")


def best_time(function, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def test_image(size: int = SIZE) -> np.ndarray:
    """Smoothed noise stretched to 0..255: a texture with a full 8-bit range."""
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.normal(size=(size, size)).astype(np.float32), (0, 0), 2.0)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return np.round(noise * 255).astype(np.uint8)


def skimage_glcm(image: np.ndarray) -> dict[str, float]:
    matrices = graycomatrix(
        image,
        distances=[1],
        angles=[0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
        levels=256,
        symmetric=True,
        normed=True,
    )
    return {prop: float(graycoprops(matrices, prop).mean()) for prop in SKIMAGE_PROPS}


def main() -> None:
    image = test_image()
    print(
        f"image {image.shape} uint8, range {image.min()}..{image.max()}, OpenCV threads {cv2.getNumThreads()}"
    )
    # Warm up both (imports, allocations), then interleave the timings to share machine noise.
    ours = glcm_features(image, levels=256)
    theirs = skimage_glcm(image)
    t_ours, t_skimage = [], []
    for _ in range(3):
        t_skimage.append(best_time(lambda: skimage_glcm(image), 2))
        t_ours.append(best_time(lambda: glcm_features(image, levels=256), 2))
    t_ours, t_skimage = min(t_ours), min(t_skimage)
    print(f"skimage graycomatrix+graycoprops (6 props): {t_skimage * 1e3:8.1f} ms")
    print(f"texture.glcm.glcm_features (25 features):   {t_ours * 1e3:8.1f} ms")
    result("glcm_features 2048^2 256 levels / scikit-image time", t_ours / t_skimage, goal=0.7)
    print(
        "check: contrast "
        f"{ours['glcm_contrast']:.6f} vs {theirs['contrast']:.6f}, correlation "
        f"{ours['glcm_correlation']:.6f} vs {theirs['correlation']:.6f}"
    )

    for aggregation in ("averaged", "slice_merged"):
        for features in (GLCM_MAP_FEATURES, ("contrast", "inverse_difference_moment", "correlation")):

            def run(features=features, aggregation=aggregation):
                return glcm_map(image, window=15, levels=32, features=features, aggregation=aggregation)

            t_map = best_time(run, 1)
            label = f"glcm_map 15x15, 32 levels, {aggregation}, {len(features)} features"
            print(
                f"{label:<56} {t_map:6.2f} s = {t_map / t_ours:6.0f}x glcm_features "
                f"= {t_map / t_skimage:5.0f}x skimage"
            )


if __name__ == "__main__":
    main()
