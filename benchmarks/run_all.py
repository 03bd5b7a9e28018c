"""Run every benchmark and print one table of the ratios they measured.

    python3 benchmarks/run_all.py

Each benchmark runs in its own process (so one's memory or threads do not disturb another) and prints
its ratios on lines starting with ``ratio``; this script collects those lines.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("glcm.py", "photo.py", "batch.py", "slide.py")


def main() -> int:
    rows: list[tuple[str, str]] = []
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        proc = subprocess.run(
            [sys.executable, str(HERE / name)], capture_output=True, text=True, cwd=HERE.parent
        )
        print(proc.stdout, end="")
        if proc.returncode != 0:
            failed += 1
            print(proc.stderr[-2000:], file=sys.stderr)
            rows.append((name, "FAILED"))
            continue
        for line in proc.stdout.splitlines():
            text = line.strip()
            if text.lower().startswith(("ratio", "peak")):
                rows.append((name, text))
    width = max(len(n) for n, _ in rows) if rows else 0
    print("\n| benchmark | measurement |\n| --- | --- |")
    for name, text in rows:
        print(f"| {name:<{width}} | {text} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
