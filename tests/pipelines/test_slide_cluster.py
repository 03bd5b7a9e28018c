"""A slide's windows spread over a real Dask cluster (issue 18): a ``dask scheduler`` and two
``dask worker`` processes on localhost, started and always torn down here. The same slide analysed
on one worker, on two, and without Dask gives identical metrics (the window sums are added in
window order whoever measured them)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from pipelines import analyze_folder
from texture.phantoms.histology import psr_section

distributed = pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 90


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dask_command() -> list[str]:
    # The `dask` console script of this environment (python -m dask runs the same CLI).
    return [sys.executable, "-m", "dask"]


@contextlib.contextmanager
def _cluster(n_workers: int, tmp_path: Path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    logs = tmp_path / f"dask-logs-{n_workers}"
    logs.mkdir()
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    *_dask_command(),
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--dashboard-address",
                    ":0",
                    "--no-show",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(logs / "scheduler.log", "w"),
            )
        )
        for i in range(n_workers):
            procs.append(
                subprocess.Popen(
                    [
                        *_dask_command(),
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--local-directory",
                        str(tmp_path / f"w{n_workers}-{i}"),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(logs / f"worker{i}.log", "w"),
                )
            )
        with distributed.Client(address, timeout=STARTUP_S) as client:
            client.wait_for_workers(n_workers, timeout=STARTUP_S)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def slide_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slides")
    rgb = psr_section((900, 700), density=0.35, seed=7)
    tifffile.imwrite(
        folder / "S01_s0_dermis.tif",
        (rgb * 255).round().astype(np.uint8),
        tile=(128, 128),
        photometric="rgb",
        resolution=(20000, 20000),
        resolutionunit="CENTIMETER",
    )
    (folder / "manifest.csv").write_text(
        "file,subject,session,modality,stain\nS01_s0_dermis.tif,S01,0,histology,psr\n"
    )
    return folder


@pytest.mark.timeout(600)
def test_slide_windows_on_one_and_two_dask_workers_give_identical_metrics(slide_folder, tmp_path):
    # Windows of 256 px: the 900 x 700 slide is 12 windows, more than the two workers.
    common = dict(slide_tile_px=256, tile_above_pixels=100_000, register=False, cache=False)
    runs = {}
    window_workers = {}
    for n in (1, 2):
        with _cluster(n, tmp_path) as address, distributed.Client(address) as client:
            with distributed.get_task_stream(client=client) as stream:
                runs[n] = analyze_folder(
                    slide_folder, out_dir=tmp_path / f"out{n}", backend="dask", scheduler=address, **common
                )
            window_workers[n] = {
                task["worker"] for task in stream.data if "_measure_windows_from_file" in str(task["key"])
            }
    # The windows ran as tasks of their own, on every worker.
    assert len(window_workers[1]) == 1
    assert len(window_workers[2]) == 2
    runs[0] = analyze_folder(slide_folder, out_dir=tmp_path / "serial", backend="serial", **common)
    for n in (1, 2, 0):
        assert runs[n].exit_status == 0, runs[n].errors
    metrics = {n: runs[n].metrics for n in runs}
    assert metrics[1]["slide_tiles"].iloc[0] == 12
    assert metrics[1]["collagen_area_fraction"].iloc[0] > 0
    pd.testing.assert_frame_equal(metrics[1], metrics[2])
    pd.testing.assert_frame_equal(metrics[1], metrics[0])
    shutil.rmtree(tmp_path / "out1", ignore_errors=True)


def test_windows_run_on_the_cluster_only_inside_a_dask_worker():
    from pipelines.assays.slide import _cluster_map

    assert _cluster_map() is None
