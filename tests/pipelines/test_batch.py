"""Backends give identical tables; resume after SIGKILL; a crashing worker costs one image only."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipelines import analyze_folder
from pipelines.batch import Outcome, Task, TaskError, run_tasks
from pipelines.config import Settings
from pipelines.io.metadata import collect_items
from tests.pipelines.crashing_worker import crash_on_bad_file

REPO = Path(__file__).resolve().parents[2]


def _write_photos(folder: Path, n: int, size=(120, 150)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        tone = np.array([0.78, 0.60, 0.50]) + rng.normal(0, 0.03, 3)
        rgb = np.clip(tone + rng.normal(0, 0.02, (*size, 3)), 0, 1)
        Image.fromarray((rgb * 255).astype(np.uint8)).save(folder / f"P{i // 2:02d}_s{i % 2}_cheek.png")


def _stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("file").reset_index(drop=True)


def test_serial_processes_and_dask_give_identical_metrics(tmp_path):
    pytest.importorskip("distributed")
    _write_photos(tmp_path / "in", 6)
    runs = {
        backend: analyze_folder(tmp_path / "in", backend=backend, workers=2, px_per_mm=20, register=False)
        for backend in ("serial", "processes", "dask")
    }
    for backend in ("processes", "dask"):
        pd.testing.assert_frame_equal(_stable(runs["serial"].metrics), _stable(runs[backend].metrics))
        pd.testing.assert_frame_equal(runs["serial"].changes, runs[backend].changes)


def test_crashing_worker_costs_only_its_image(tmp_path):
    _write_photos(tmp_path / "in", 4)
    Image.open(next((tmp_path / "in").glob("*.png"))).save(tmp_path / "in" / "crash_s0.png")
    settings = Settings(backend="processes", workers=2, register=False, color_correction="none")
    tasks = [Task(item=i, input_root=tmp_path / "in") for i in collect_items(tmp_path / "in")]
    results = dict((t.item.file, r) for t, r in run_tasks(tasks, settings, task_function=crash_on_bad_file))
    assert len(results) == 5
    crashed = results.pop("crash_s0.png")
    assert isinstance(crashed, TaskError) and crashed.stage == "worker"
    assert all(isinstance(r, Outcome) for r in results.values())


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
    # 10 photos of 200 x 240 px: each takes far longer than the 20 ms poll, so the kill lands part-way.
    _write_photos(tmp_path / "in", 10, size=(200, 240))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "analyze",
        str(tmp_path / "in"),
        "-o",
        str(out),
        "--backend",
        "serial",
        "--px-per-mm",
        "20",
        "--no-report",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "cache").glob("*.json"))) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cached_at_kill = len(list((out / "cache").glob("*.json")))
    assert 3 <= cached_at_kill < 10, "the run was not interrupted part-way"
    assert not (out / "metrics.csv").exists()

    resumed = analyze_folder(tmp_path / "in", out_dir=out, backend="serial", px_per_mm=20)
    assert resumed.run_info["counts"]["cached"] >= cached_at_kill
    fresh = analyze_folder(tmp_path / "in", out_dir=tmp_path / "fresh", backend="serial", px_per_mm=20)
    pd.testing.assert_frame_equal(resumed.metrics, fresh.metrics)
    pd.testing.assert_frame_equal(resumed.changes, fresh.changes)
    assert not list(out.rglob("*.tmp"))
