"""Benchmark: a batch of 16 photos, serial vs 2 processes vs Dask, and a cached re-run vs a fresh run.

Run ``python3 benchmarks/batch.py``. Everything is measured in this one run, on the same folder:

- ``processes / serial`` wall time (goal <= 0.6 with 2 workers),
- ``dask / processes`` (goal <= 1.15: Dask's LocalCluster overhead at most 15 % over the process pool),
- ``cached re-run / fresh run`` (goal <= 0.1).

Worker start-up is part of each parallel time, as a user would see it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pipelines import analyze_folder

try:
    from benchmarks._report import result
except ImportError:  # run as a script
    from _report import result
from texture.phantoms.photo import render_skin


def make_photos(folder: Path, n: int, size_mm: tuple[float, float]) -> None:
    for i in range(n):
        phantom = render_skin(size_mm=size_mm, px_per_mm=25.0, seed=i, n_spots=3, n_lines=2)
        rgb = (np.clip(phantom.rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
        Image.fromarray(rgb).save(folder / f"B{i:02d}_s0_cheek.jpg", quality=92)


def timed(**kwargs) -> float:
    start = time.perf_counter()
    result = analyze_folder(**kwargs)
    assert result.exit_status == 0, result.errors
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description="batch benchmark")
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--size-mm", type=float, nargs=2, default=(48.0, 40.0))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        make_photos(tmp / "in", args.photos, tuple(args.size_mm))
        common = dict(path=tmp / "in", px_per_mm=25.0, cache=False, overlays=False)
        serial = timed(backend="serial", **common)
        processes = timed(backend="processes", workers=2, **common)
        try:
            dask = timed(backend="dask", workers=2, **common)
        except RuntimeError as exc:
            dask = float("nan")
            print(f"dask: {exc}")
        fresh = timed(backend="serial", path=tmp / "in", px_per_mm=25.0, out_dir=tmp / "out")
        cached = timed(backend="serial", path=tmp / "in", px_per_mm=25.0, out_dir=tmp / "out")
    side = f"{int(args.size_mm[0] * 25)}x{int(args.size_mm[1] * 25)} px"
    print(f"{args.photos} photos of {side}")
    print(f"serial: {serial:.1f} s   2 processes: {processes:.1f} s   dask (2 workers): {dask:.1f} s")
    print(f"fresh run with outputs: {fresh:.1f} s   cached re-run: {cached:.2f} s")
    note = f"{args.photos} photos of {side}, one run each"
    result("batch processes / serial time", processes / serial, goal=0.6, note=note)
    result("batch dask / processes time", dask / processes, goal=1.15, note=note)
    result("batch cached re-run / fresh run time", cached / fresh, goal=0.1, fmt=".3f", note=note)


if __name__ == "__main__":
    main()
