"""The ``skintex`` command: exit status, usage errors, version, help, interruption (issues 9 and 19)."""

from __future__ import annotations

import pandas as pd
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
