"""The process pool starts only with more than one image per worker (its start-up costs seconds), and
the run records which backend ran (issue 18)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipelines import analyze_folder
from pipelines.batch import Task, run_tasks
from pipelines.config import Settings
from pipelines.io.metadata import collect_items


def _photos(folder, n):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        rgb = np.clip(np.array([0.78, 0.6, 0.5]) + rng.normal(0, 0.02, (80, 90, 3)), 0, 1)
        Image.fromarray((rgb * 255).astype(np.uint8)).save(folder / f"P{i:02d}_s0_cheek.png")


def _backend_used(folder, workers):
    settings = Settings(backend="processes", workers=workers, register=False, color_correction="none")
    tasks = [Task(item=i, input_root=folder) for i in collect_items(folder)]
    seen = []
    results = list(run_tasks(tasks, settings, on_backend=lambda b, w: seen.append((b, w))))
    assert len(results) == len(tasks)
    return seen


def test_one_image_per_worker_runs_serially(tmp_path):
    _photos(tmp_path / "in", 2)
    assert _backend_used(tmp_path / "in", workers=2) == [("serial", 1)]


def test_more_images_than_workers_start_the_pool(tmp_path):
    _photos(tmp_path / "in", 3)
    assert _backend_used(tmp_path / "in", workers=2) == [("processes", 2)]


def test_run_json_says_which_backend_ran(tmp_path):
    _photos(tmp_path / "in", 1)
    result = analyze_folder(tmp_path / "in", backend="processes", workers=2, px_per_mm=20, register=False)
    assert result.run_info["backend"] == "processes"  # the configured backend
    assert result.run_info["backend_used"] == {"backend": "serial", "workers": 1}
