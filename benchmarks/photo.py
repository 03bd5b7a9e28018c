"""Benchmark: the whole photo suite on a 12-megapixel photo, as a ratio to decoding that photo's JPEG.

Run ``python3 benchmarks/photo.py``. A synthetic close-up (4000 x 3000 px at 25 px/mm: pores, spots,
fine lines, shading, noise) is encoded as a quality-92 JPEG in memory. In the same process it times

- ``decode``: Pillow decoding the JPEG to an RGB uint8 array (what every analysis must do anyway);
- ``analyze``: :func:`pipelines.photo.analyze_photo` on the decoded photo as float32 RGB in [0, 1]
  (Lab once, skin mask, pores, spots, evenness, skin colour, wrinkles, roughness, GLCM, overlays);

best of N each, interleaved so that both see the same machine load, and prints the ratio
analyze / decode. Goal: <= 5. A per-stage profile of one run follows.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time

import cv2
import numpy as np
from PIL import Image

from pipelines.photo import analyze_photo
from texture.phantoms.photo import render_skin

PX_PER_MM = 25.0
SIZE_MM = (160.0, 120.0)  # 4000 x 3000 px


def main(repeats: int = 3) -> None:
    started = time.perf_counter()
    phantom = render_skin(
        size_mm=SIZE_MM, px_per_mm=PX_PER_MM, seed=1, n_spots=40, n_lines=30, pore_density_per_cm2=60
    )
    buffer = io.BytesIO()
    Image.fromarray(np.round(phantom.rgb * 255).astype(np.uint8)).save(buffer, "JPEG", quality=92)
    data = buffer.getvalue()
    print(
        f"phantom {phantom.rgb.shape[1]}x{phantom.rgb.shape[0]} px at {PX_PER_MM} px/mm rendered in "
        f"{time.perf_counter() - started:.1f} s; JPEG {len(data) / 1e6:.1f} MB; "
        f"OpenCV threads {cv2.getNumThreads()}"
    )

    def decode() -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))

    rgb = decode().astype(np.float32) / np.float32(255.0)
    analyze_photo(rgb, px_per_mm=PX_PER_MM)  # warm-up
    decode_times, analyze_times = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        decode()
        t1 = time.perf_counter()
        result = analyze_photo(rgb, px_per_mm=PX_PER_MM)
        t2 = time.perf_counter()
        decode_times.append(t1 - t0)
        analyze_times.append(t2 - t1)
    dec, ana = min(decode_times), min(analyze_times)
    print(f"decode JPEG (Pillow, best of {repeats}): {dec:.3f} s")
    print(f"analyze_photo (best of {repeats}):       {ana:.3f} s")
    print(f"ratio analyze / decode: {ana / dec:.2f}  (goal <= 5)")
    truth = phantom.truth
    m = result.metrics
    print(
        f"sanity: pores {m['pore_count']:.0f} (truth {truth['pore_count']:.0f}), "
        f"spots {m['spot_count']:.0f} ({truth['spot_count']:.0f}), "
        f"lines {m['wrinkle_count']:.0f} ({truth['wrinkle_count']:.0f})"
    )
    if "--profile" in sys.argv:
        profile = cProfile.Profile()
        profile.enable()
        analyze_photo(rgb, px_per_mm=PX_PER_MM)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
