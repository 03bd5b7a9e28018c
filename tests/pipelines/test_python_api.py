"""``analyze_folder`` from a plain Python script (issue 19)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.pipelines.hostile import skin

ROOT = str(Path(__file__).resolve().parents[2])

UNGUARDED = """
import sys
sys.path.insert(0, {root!r})
from pipelines import analyze_folder

result = analyze_folder({folder!r}, backend="processes", workers=2, px_per_mm=20, register=False)
print("ROWS", len(result.metrics), "FAILED", result.n_failed, "BACKEND", result.run_info["backend"])
"""

GUARDED = """
import sys
sys.path.insert(0, {root!r})
from pipelines import analyze_folder


def main():
    result = analyze_folder({folder!r}, backend="processes", workers=2, px_per_mm=20, register=False)
    print("ROWS", len(result.metrics), "FAILED", result.n_failed, "BACKEND", result.run_info["backend"])


if __name__ == "__main__":
    main()
"""


def _run_script(tmp_path: Path, template: str) -> subprocess.CompletedProcess:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    for i in range(3):
        Image.fromarray(skin(i)).save(folder / f"P0{i}_s0_cheek.png")
    script = tmp_path / "my_analysis.py"
    script.write_text(template.format(root=ROOT, folder=str(folder)), encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )


def test_a_script_without_the_main_guard_runs_serially_with_one_warning(tmp_path):
    """Issue 19: without the guard, analyze_folder returned 0 rows and one WorkerCrashed row per image,
    with ~750 lines of traceback, and nothing named the guard."""
    done = _run_script(tmp_path, UNGUARDED)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ROWS", "3", "FAILED", "0", "BACKEND", "serial"]
    assert done.stderr.count('if __name__ == "__main__":') == 2  # the one warning (names it twice)
    assert done.stderr.count("RuntimeWarning") == 1
    assert "Traceback" not in done.stderr and "WorkerCrashed" not in done.stdout + done.stderr


def test_a_guarded_script_gets_worker_processes_and_no_warning(tmp_path):
    done = _run_script(tmp_path, GUARDED)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ROWS", "3", "FAILED", "0", "BACKEND", "processes"]
    assert "RuntimeWarning" not in done.stderr
