"""Run every benchmark and print ONE table of what they measured, each figure with its goal.

    python3 benchmarks/run_all.py [--only ibsi photo ...]

Each benchmark runs in its own process (so one's memory or threads do not disturb another) and
prints its figures as ``RESULT`` lines (:mod:`benchmarks._report`); this script collects them into
one Markdown table: measurement, value, goal, met / NOT met (``info``: a figure without a goal).
Inside each benchmark, the compared timings are interleaved repetitions (min and median), so that
both sides see the same machine load; on a shared machine the absolute times still vary with the
load (printed), the ratios much less.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# name -> arguments. The slide is smaller than slide.py's default (14000^2) to keep the whole run
# within minutes on a shared 2-core machine; throughput and peak memory depend on the tile size.
BENCHMARKS: dict[str, list[str]] = {
    "ibsi": [],
    "glcm": [],
    "startup": [],
    "photo": [],
    "batch": [],
    "slide": ["--size", "8192", "--peer-size", "2048"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args(argv)
    rows: list[tuple[str, ...]] = []
    failed = 0
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")])),
    }
    for name in args.only:
        print(f"== {name}.py {' '.join(BENCHMARKS[name])}", flush=True)
        proc = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), *BENCHMARKS[name]],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
            env=env,
        )
        print(proc.stdout, end="", flush=True)
        if proc.returncode != 0:
            failed += 1
            print(proc.stderr[-2000:], file=sys.stderr)
            rows.append((name, "benchmark failed", "-", "-", "NOT met", f"exit status {proc.returncode}"))
            continue
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT\t"):
                fields = line.split("\t")[1:]
                rows.append((name, *fields, *[""] * (5 - len(fields))))
    minutes = (time.perf_counter() - started) / 60
    print(
        f"\n{len(rows)} figures in {minutes:.1f} min; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (a shared machine: absolute times vary with the load)\n"
    )
    print("| benchmark | measurement | value | goal | status | note |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    met = sum(r[4] == "met" for r in rows)
    missed = sum(r[4] == "NOT met" for r in rows)
    print(f"\ngoals met: {met}, not met: {missed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
