"""The ``skintex`` command: exit status, usage errors, version, help, interruption (issues 9 and 19)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests.pipelines.hostile import (
    fast_config,
    skin,
)


def test_cli_exit_status_with_a_bad_file_and_a_refused_manifest(inside, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    runner = CliRunner()
    (inside / "P02_s0_cheek.jpg").write_bytes(b"")  # one bad file: the run finishes with status 2
    out = tmp_path / "cli-out"
    args = ["analyze", str(inside), "-o", str(out), "--backend", "serial", "--no-report"]
    result = runner.invoke(app, [*args, "--config", str(fast_config(tmp_path))])
    assert result.exit_code == 2, result.output
    errors = pd.read_csv(out / "errors.csv")
    assert list(errors["file"]) == ["P02_s0_cheek.jpg"]
    escape = tmp_path / "escape"
    escape.mkdir()
    Image.fromarray(skin(0)).save(escape / "a.png")
    (escape / "manifest.csv").write_text("file\n../outside.png\n", encoding="utf-8")
    refused = runner.invoke(app, ["analyze", str(escape), "-o", str(tmp_path / "never"), "--no-report"])
    assert refused.exit_code == 1  # usage error: nothing written
    assert "outside the input folder" in " ".join(refused.output.split())
    assert not (tmp_path / "never").exists()


# ---------------------------------------------------------------------------------------------
# Issue 19: usage errors, version, help, interruption


def _invoke(*args: str):
    from typer.testing import CliRunner

    from pipelines.cli import app

    return CliRunner().invoke(app, list(args))


def test_a_missing_option_is_a_usage_error_with_exit_1(tmp_path):
    """Issue 19: a missing -o exited 2 (click's default) although the README says usage errors exit 1;
    2 means "some images failed"."""
    result = _invoke("analyze", str(tmp_path))
    assert result.exit_code == 1 and "--out" in result.output
    assert _invoke("no-such-command").exit_code == 1
    assert _invoke("analyze", str(tmp_path), "-o", str(tmp_path / "o"), "--workers", "two").exit_code == 1


def test_version():
    from pipelines.batch import skintex_version

    result = _invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"skintex {skintex_version()}"


@pytest.mark.parametrize("command", ["analyze", "report", "demo"])
def test_help_has_an_example_and_the_exit_codes(command):
    text = " ".join(_invoke(command, "--help").output.split())
    assert f"Example: skintex {command}" in text
    assert "Exit status: 0 every image analysed; 2" in text and "130 interrupted" in text
    if command == "analyze":
        for column in (
            "file (required",
            "subject",
            "session",
            "date",
            "modality",
            "stain",
            "px_per_mm",
            "roi",
        ):
            assert column in text, column
        assert "--force" in text and "--force-scale" in text
    assert "Exit status" in " ".join(_invoke("--help").output.split())


def _slow_folder(folder: Path, n: int = 8) -> None:
    folder.mkdir()
    for i in range(n):
        Image.fromarray(skin(i, shape=(900, 1200))).save(folder / f"P{i:02d}_s0_cheek.png")


def _start(folder: Path, out: Path) -> subprocess.Popen:
    root = str(Path(__file__).resolve().parents[2])
    cmd = [sys.executable, "-m", "pipelines.cli", "analyze", str(folder), "-o", str(out)]
    cmd += ["--backend", "processes", "--workers", "2", "--px-per-mm", "20", "--no-report"]
    env = {**os.environ, "PYTHONPATH": root}
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _wait_for_workers(proc: subprocess.Popen, n: int = 2, timeout: float = 120.0) -> list[int]:
    import psutil

    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The resource tracker, the fork server and the workers it forked (same command line as it).
        children = parent.children(recursive=True)
        if len(children) >= n + 2:
            time.sleep(1.0)  # the workers are now inside an image
            return [c.pid for c in parent.children(recursive=True)]
        time.sleep(0.05)
    raise AssertionError("the workers never started")


def _running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _all_gone(pids: list[int], timeout: float) -> bool:
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [
            p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_stops_within_a_second_and_says_how_to_resume(tmp_path):
    """Issue 19: Ctrl-C exited 130 after 10-15 s with no message."""
    _slow_folder(tmp_path / "in")
    proc = _start(tmp_path / "in", tmp_path / "out")
    children = _wait_for_workers(proc)
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    _, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 130, err
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    assert "interrupted — re-run the same command to resume" in err
    assert "Traceback" not in err
    assert _all_gone(children, timeout=5.0)


def test_sigterm_terminates_the_worker_processes(tmp_path):
    """Issue 19: SIGTERM to the parent left the fork server, resource tracker and workers running for
    minutes (~860 MB)."""
    _slow_folder(tmp_path / "in")
    proc = _start(tmp_path / "in", tmp_path / "out")
    children = _wait_for_workers(proc)
    proc.send_signal(signal.SIGTERM)  # the parent only, as a scheduler or `kill` sends it
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "re-run the same command to resume" in err
    assert _all_gone(children, timeout=10.0), "worker, fork server or resource tracker left running"
