"""Benchmark: start-up costs a user waits for before any image is analysed.

Run ``python3 benchmarks/startup.py [--repeats N]``. Each figure is measured in fresh processes:

- ``skintex --help`` wall time (min and median of N runs; goal < 0.5 s);
- ``import pipelines.cli`` alone;
- the fibre library's first use (skan's numba kernels: ``pipelines.warmup``) in a fresh process, twice:
  the second run shows what the on-disk numba cache saves (skan caches only some of its kernels; the
  ones taking its jitclass graph are compiled in every process, numba cannot cache them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:
    from benchmarks._report import min_median, result
except ImportError:  # run as a script
    from _report import min_median, result

ROOT = Path(__file__).resolve().parents[1]


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    print(f"shared machine: load average {os.getloadavg()[0]:.1f}")
    exe = shutil.which("skintex", path=str(Path(sys.executable).parent)) or shutil.which("skintex")
    help_cmd = [exe, "--help"] if exe else [sys.executable, "-m", "pipelines.cli", "--help"]
    bare, helps, imports = [], [], []
    for _ in range(args.repeats):  # interleaved: the three see the same load
        bare.append(_wall([sys.executable, "-c", "pass"]))
        helps.append(_wall(help_cmd))
        imports.append(_wall([sys.executable, "-c", "import pipelines.cli"]))
    for name, times in (
        ("python -c pass", bare),
        ("skintex --help", helps),
        ("import pipelines.cli", imports),
    ):
        low, mid = min_median(times)
        print(f"{name:<22} min {low:.3f} s, median {mid:.3f} s")
    low, mid = min_median(helps)
    result(
        "skintex --help wall time",
        low,
        goal=0.5,
        op="<",
        fmt=".2f",
        unit=" s",
        note=f"min of {args.repeats}; median {mid:.2f} s",
    )
    low, mid = min_median(imports)
    result(
        "import pipelines.cli wall time", low, fmt=".2f", unit=" s", note=f"fresh process; median {mid:.2f} s"
    )

    warm = [
        sys.executable,
        "-c",
        "import time; t = time.perf_counter(); import pipelines.warmup; print(time.perf_counter() - t)",
    ]
    first, again = _wall(warm), _wall(warm)
    print(f"fibre library (skan/numba) first use in a fresh process: {first:.1f} s; again: {again:.1f} s")
    result(
        "fibre library first use, fresh process",
        again,
        fmt=".1f",
        unit=" s",
        note=f"first ever {first:.1f} s; skan jitclass kernels are not cacheable",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
