"""Whole-slide benchmark: peak memory and throughput of ``pipelines.assays.slide.analyze_slide``.

Writes a synthetic picrosirius-red RGB slide (default 14000 x 14000, JPEG-compressed tiled TIFF,
512 px tiles) to a temporary directory, then analyses it in a fresh subprocess and reports that
process's peak resident memory (``resource.getrusage``; goal <= 1.5 GB) and the throughput in
megapixels per second (fibres need no JIT warm-up: texture._skeleton_graph is numpy). As a
peer, the same code is timed on a smaller image both untiled (``analyze_histology`` on the decoded
array) and tiled, in one process, to show the tiling overhead as a ratio.

Usage: ``python benchmarks/slide.py [--size 14000] [--tile-px 2048] [--fibres] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._report import result as report  # noqa: E402

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pipelines.assays.slide import analyze_slide
t0 = time.perf_counter()
res = analyze_slide({path!r}, stain="psr", px_per_mm=2000.0, tile_px={tile}, options={options})
dt = time.perf_counter() - t0
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": dt, "peak_rss_mb": peak_kb / 1024.0,
                  "metrics": {{k: res.metrics[k] for k in ("collagen_area_fraction",
                              "collagen_orientation_deg", "collagen_coherency", "slide_tiles")}}}}))
"""


def write_slide(path: Path, size: int, tile: int = 512) -> None:
    """A size x size PSR slide built tile by tile from a few phantom patches (bounded memory)."""
    import tifffile

    from texture.phantoms.histology import psr_section

    patches = [
        (psr_section((tile, tile), density=d, glass_fraction=0.0, seed=s) * 255).astype(np.uint8)
        for s, d in enumerate((0.25, 0.4, 0.55, 0.3))
    ]
    n = -(-size // tile)

    def tiles():
        for i in range(n):
            for j in range(n):
                yield patches[(i * 7 + j * 3) % len(patches)]

    tifffile.imwrite(
        path,
        tiles(),
        shape=(size, size, 3),
        dtype=np.uint8,
        tile=(tile, tile),
        photometric="rgb",
        compression="jpeg",
        resolution=(20000.0, 20000.0),
        resolutionunit="CENTIMETER",
        bigtiff=True,
    )


def run_child(path: Path, tile_px: int, fibres: bool) -> dict:
    code = _CHILD.format(root=str(ROOT), path=str(path), tile=tile_px, options={"fibres": fibres})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def peer_ratio(tmp: Path, size: int, tile_px: int, fibres: bool) -> dict:
    """Same image untiled (in memory) and tiled (from file) in this process: time ratio."""
    import tifffile

    from pipelines.assays.histology import analyze_histology
    from pipelines.assays.slide import analyze_slide

    path = tmp / "peer.tif"
    write_slide(path, size)
    rgb = tifffile.imread(path).astype(np.float32) / 255.0
    t0 = time.perf_counter()
    whole = analyze_histology(rgb, stain="psr", px_per_mm=2000.0, options={"fibres": fibres})
    t1 = time.perf_counter()
    tiled = analyze_slide(path, stain="psr", px_per_mm=2000.0, tile_px=tile_px, options={"fibres": fibres})
    t2 = time.perf_counter()
    return {
        "size": size,
        "untiled_s": t1 - t0,
        "tiled_s": t2 - t1,
        "tiled_over_untiled": (t2 - t1) / (t1 - t0),
        "area_fraction_diff": abs(
            tiled.metrics["collagen_area_fraction"] - whole.metrics["collagen_area_fraction"]
        ),
        "orientation_diff_deg": abs(
            tiled.metrics["collagen_orientation_deg"] - whole.metrics["collagen_orientation_deg"]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=14000)
    parser.add_argument("--tile-px", type=int, default=2048)
    parser.add_argument("--fibres", action="store_true", help="also trace fibres (slow)")
    parser.add_argument("--peer-size", type=int, default=3072)
    parser.add_argument("--keep", type=Path, default=None, help="write the slide here and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.keep or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        path = tmp / f"psr_{args.size}.tif"
        t0 = time.perf_counter()
        write_slide(path, args.size)
        print(
            f"wrote {path.name}: {args.size} x {args.size} RGB, "
            f"{path.stat().st_size / 1e6:.0f} MB on disk, {time.perf_counter() - t0:.0f} s"
        )
        result = run_child(path, args.tile_px, args.fibres)
        mp = args.size * args.size / 1e6
        print(
            f"analyze_slide (tile_px={args.tile_px}, fibres={args.fibres}): "
            f"{result['seconds']:.0f} s, {mp / result['seconds']:.2f} MP/s, "
            f"peak RSS {result['peak_rss_mb']:.0f} MB (goal <= 1536 MB)"
        )
        print("metrics:", json.dumps(result["metrics"]))
        note = f"{args.size}^2 px slide, tile_px {args.tile_px}, fibres {args.fibres}, one run"
        report("slide throughput", mp / result["seconds"], fmt=".2f", unit=" MP/s", note=note)
        report("slide peak memory", result["peak_rss_mb"], goal=1536, fmt=".0f", unit=" MB", note=note)
        if args.peer_size:
            peer = peer_ratio(tmp, args.peer_size, args.tile_px, args.fibres)
            print("peer (same image untiled vs tiled, one process):", json.dumps(peer))
            report(
                "slide tiled / untiled time",
                peer["tiled_over_untiled"],
                note=f"{args.peer_size}^2 px, one process",
            )


if __name__ == "__main__":
    main()
