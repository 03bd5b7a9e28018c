"""Benchmark: start-up costs a user waits for before any image is analysed.

Run ``python3 benchmarks/startup.py [--repeats N]``. Each figure is measured in fresh processes:

- ``skintex --help`` wall time (min and median of N runs; goal < 0.5 s);
- ``import pipelines.cli`` alone;
- the fibre library's first use in a fresh process (import :mod:`texture._skeleton_graph` and build one
  skeleton graph), timed inside the process after numpy and scipy are imported (any histology run has
  them): first ever, with an empty numba cache (``NUMBA_CACHE_DIR`` pointed at a new temporary
  directory, as on a fresh install), then three more fresh processes (goal: under 1 s; the graph is
  numpy, nothing is compiled, so the first-ever and later figures are alike). Peer, when skan is
  installed (test extras): skan's ``Skeleton`` first use, timed the same way (its kernels take a numba
  jitclass, which numba cannot cache, so every process compiles them).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
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

    fibre_graph = (
        "from texture._skeleton_graph import skeleton_graph; import numpy as np; "
        "skeleton_graph(np.eye(8, dtype=bool))"
    )
    with tempfile.TemporaryDirectory() as cache:
        # NUMBA_CACHE_DIR takes precedence over the __pycache__ next to the sources: an empty
        # directory is a fresh install's (if anything were compiled, this run would pay for it).
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        first = _first_use(fibre_graph, env)
        again = [_first_use(fibre_graph, env) for _ in range(3)]
    low, mid = min_median(again)
    print(
        f"fibre library first use in a fresh process: first ever {first:.3f} s; again: "
        + ", ".join(f"{t:.3f} s" for t in again)
    )
    peer = ""
    if importlib.util.find_spec("skan") is not None:
        skan = _first_use(
            "from skan import Skeleton; import numpy as np; Skeleton(np.eye(8, dtype=bool)).path_lengths()",
            dict(os.environ),
        )
        print(f"skan (peer) first use in a fresh process: {skan:.2f} s")
        peer = f"; skan (peer) {skan:.1f} s, compiled in every process"
    result(
        "fibre library first use, fresh process",
        mid,
        goal=1.0,
        op="<",
        fmt=".2f",
        unit=" s",
        note=f"median of 3 (min {low:.2f} s); first ever (empty numba cache) {first:.2f} s{peer}",
    )
    return 0


def _first_use(statement: str, env: dict[str, str]) -> float:
    """Seconds ``statement`` takes in a fresh process, once numpy and scipy are imported."""
    code = (
        "import time, numpy, scipy.sparse.csgraph\n"
        f"t = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT, env=env
    )
    return float(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
