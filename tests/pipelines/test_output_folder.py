"""Output folders: atomic writes, temporaries, one run per folder, a run owns its folder (issues 9 and
19).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import pipelines.outputs.export as export
from pipelines import analyze_folder
from pipelines.io.files import OutputLockedError
from pipelines.outputs.folder import OutputFolderError
from tests.pipelines.hostile import (
    FAST,
    killed_mid_write,
    skin,
)


def test_crash_during_a_write_keeps_the_old_file_and_leaves_no_tmp(inside, tmp_path, monkeypatch):
    out = tmp_path / "out"
    analyze_folder(inside, out_dir=out, **FAST)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert "metrics.csv" in before

    Image.fromarray(skin(3)).save(inside / "P03_s0_cheek.png")  # the new run would change the tables

    class Killed(BaseException):  # like SIGINT / SystemExit: not an ordinary error
        pass

    real_atomic_write = export.atomic_write

    @contextlib.contextmanager
    def dies_on_parquet(path, mode="w", **kwargs):
        with real_atomic_write(path, mode, **kwargs) as fh:
            yield fh  # the whole new table is written to the temporary file ...
            if Path(path).name == "metrics.parquet":
                raise Killed()  # ... and the process dies before the rename

    monkeypatch.setattr(export, "atomic_write", dies_on_parquet)
    with pytest.raises(Killed):
        analyze_folder(inside, out_dir=out, **FAST)
    monkeypatch.setattr(export, "atomic_write", real_atomic_write)

    assert not [p.name for p in out.rglob("*") if p.name.endswith(".tmp")]
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after["metrics.parquet"] == before["metrics.parquet"]  # the old complete file
    assert after["errors.csv"] == before["errors.csv"]
    assert len(pd.read_parquet(out / "metrics.parquet")) == 1
    # metrics.csv, written before the crash, was replaced as a whole: the new complete table.
    assert len(pd.read_csv(out / "metrics.csv")) == 2


def test_crash_inside_atomic_write_body(tmp_path):
    target = tmp_path / "table.csv"
    export.write_csv(pd.DataFrame({"a": [1, 2]}), target)
    old = target.read_bytes()
    with pytest.raises(RuntimeError), export.atomic_write(target, "w", encoding="utf-8") as fh:
        fh.write("half a tab")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_sigkill_mid_write_leaves_the_old_complete_file(tmp_path):
    target = tmp_path / "metrics.csv"
    export.write_csv(pd.DataFrame({"a": [1, 2]}), target)
    old = target.read_bytes()
    killed_mid_write(target)
    assert target.read_bytes() == old  # never a torn file


def test_next_run_sweeps_temporaries_of_a_killed_run(inside, tmp_path):
    out = tmp_path / "out"
    analyze_folder(inside, out_dir=out, **FAST)
    killed_mid_write(out / "metrics.csv")
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")]  # the killed run's leftover
    analyze_folder(inside, out_dir=out, **FAST)
    assert not [p.name for p in out.rglob("*.tmp")]


def test_output_folder_inside_the_input_folder_is_not_analysed(inside):
    """skintex analyze photos -o photos/out, twice: the second run must not measure its own overlays."""
    first = analyze_folder(inside, out_dir=inside / "out", **FAST)
    assert list((inside / "out" / "overlays").rglob("*.jpg"))  # there are overlay images to trip on
    second = analyze_folder(inside, out_dir=inside / "out", **FAST)
    assert list(second.metrics["file"]) == list(first.metrics["file"]) == ["P01_s0_cheek.png"]
    # -o pointing at the input folder itself: its overlays/ and cache/ are not inputs either.
    analyze_folder(inside, out_dir=inside, **FAST)
    again = analyze_folder(inside, out_dir=inside, **FAST)
    assert list(again.metrics["file"]) == ["P01_s0_cheek.png"]


# ---------------------------------------------------------------------------------------------
# Issue 19: a run owns its output folder


def _histology_and_photo(folder: Path) -> None:
    from texture.phantoms.histology import psr_section

    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(skin(0)).save(folder / "P01_s0_cheek.png")
    rgb = (psr_section((160, 160), density=0.4, seed=3) * 255).round().astype(np.uint8)
    Image.fromarray(rgb).save(folder / "H01_s0_biopsy_psr.png")
    (folder / "manifest.csv").write_text(
        "file,subject,session,modality,stain,px_per_mm\n"
        "P01_s0_cheek.png,P01,0,photo,,20\nH01_s0_biopsy_psr.png,H01,0,histology,psr,1000\n",
        encoding="utf-8",
    )


def test_rerun_into_the_same_folder_shows_only_the_current_run(tmp_path):
    """Issue 19: a histology run, then a photo-only run into the same OUT left orientations.csv and the
    histology overlays behind, and the report showed both runs' subjects."""
    first_in, second_in, out = tmp_path / "first", tmp_path / "second", tmp_path / "out"
    _histology_and_photo(first_in)
    analyze_folder(first_in, out_dir=out, **FAST)
    assert (out / "orientations.csv").is_file()
    overlays_before = {p.name for p in (out / "overlays").iterdir()}
    assert len(overlays_before) == 2
    second_in.mkdir()
    Image.fromarray(skin(5)).save(second_in / "P09_s0_cheek.png")
    result = analyze_folder(second_in, out_dir=out, **FAST)
    assert not (out / "orientations.csv").exists()
    assert len(list((out / "overlays").iterdir())) == 1  # the photo of this run only
    assert set(pd.read_csv(out / "metrics.csv")["subject"]) == {"P09"}
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "complete" and "orientations.csv" not in run["outputs"]
    from pipelines.outputs.report import build_report

    html = build_report(out).read_text(encoding="utf-8")
    assert "P09" in html and "H01" not in html and "P01" not in html
    assert result.run_info["counts"]["images"] == 1


def test_a_folder_with_another_tools_files_is_refused_unless_forced(inside, tmp_path, monkeypatch):
    """Issue 19: a user's own metrics.csv in OUT was silently overwritten."""
    import pipelines.batch

    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.csv").write_text("my,own\n1,2\n", encoding="utf-8")
    (out / "notes.docx").write_bytes(b"PK\x03\x04")
    calls = []
    real = pipelines.batch.analyze_item
    monkeypatch.setattr(pipelines.batch, "analyze_item", lambda *a, **k: calls.append(a) or real(*a, **k))
    with pytest.raises(OutputFolderError, match="2 file.*did not write.*--force") as info:
        analyze_folder(inside, out_dir=out, **FAST)
    assert "metrics.csv" in str(info.value) and str(tmp_path) not in str(info.value)
    assert not calls
    assert sorted(p.name for p in out.iterdir()) == ["metrics.csv", "notes.docx"]  # nothing written
    assert (out / "metrics.csv").read_text(encoding="utf-8") == "my,own\n1,2\n"
    # The command line: exit 1, an error line naming --force, nothing written.
    from typer.testing import CliRunner

    from pipelines.cli import app

    cli = CliRunner().invoke(app, ["analyze", str(inside), "-o", str(out), "--backend", "serial"])
    assert cli.exit_code == 1 and "--force" in " ".join(cli.output.split())
    assert sorted(p.name for p in out.iterdir()) == ["metrics.csv", "notes.docx"]
    # Forced: the run writes its own names and leaves the other tool's file alone.
    analyze_folder(inside, out_dir=out, force=True, **FAST)
    assert "file" in pd.read_csv(out / "metrics.csv").columns
    assert (out / "notes.docx").read_bytes() == b"PK\x03\x04"


def test_input_folder_as_output_keeps_the_users_hidden_tmp_files(tmp_path):
    """Issue 19, data loss: -o = the input folder (documented) swept raw/.IMG_0001.CR2.tmp."""
    folder = tmp_path / "in"
    (folder / "raw").mkdir(parents=True)
    Image.fromarray(skin(0)).save(folder / "P01_s0_cheek.png")
    users = [folder / "raw" / ".IMG_0001.CR2.tmp", folder / ".draft.tmp", folder / ".metrics.csv.abc123.tmp"]
    for path in users:
        path.write_bytes(b"the user's own half-copied raw file")
    ours = folder / ".skintex-metrics.csv.k2j3h4.tmp"  # what a killed skintex run leaves
    ours.write_text("half a table", encoding="utf-8")
    analyze_folder(folder, out_dir=folder, **FAST)
    analyze_folder(folder, out_dir=folder, **FAST)
    assert all(p.read_bytes() == b"the user's own half-copied raw file" for p in users)
    assert not ours.exists()


def test_sweep_removes_only_skintex_temporaries(tmp_path):
    from pipelines.io.files import is_temporary, sweep_temporaries

    (tmp_path / "overlays" / "abc").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    ours = [
        tmp_path / ".skintex-run.json.x1y2z3ab.tmp",
        tmp_path / "overlays" / "abc" / ".skintex-a.jpg.q9w8e7r6.tmp",
    ]
    theirs = [tmp_path / ".x.tmp", tmp_path / "elsewhere" / ".skintex-b.jpg.q9w8e7r6.tmp", tmp_path / "a.tmp"]
    for path in ours + theirs:
        path.write_bytes(b"x")
    assert sweep_temporaries(tmp_path) == 2
    assert not any(p.exists() for p in ours) and all(p.exists() for p in theirs)
    assert is_temporary(".skintex-metrics.csv.a1b2c3d4.tmp") and not is_temporary(".metrics.csv.a1b2c3d4.tmp")


def test_a_second_run_into_a_folder_in_use_is_refused(inside, tmp_path):
    """Issue 19: a short run's sweep deleted a long run's temporary file; now the second run is refused
    at once with a clear message while the first holds the folder."""
    import subprocess
    import sys

    out = tmp_path / "out"
    out.mkdir()
    root = str(Path(__file__).resolve().parents[2])
    holder = (
        f"import sys, time; sys.path.insert(0, {root!r})\n"
        "from pipelines.io.files import output_lock\n"
        f"with output_lock({str(out)!r}):\n"
        "    print('locked', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLockedError, match="another skintex run is writing to this output folder"):
            analyze_folder(inside, out_dir=out, **FAST)
        assert not (out / "metrics.csv").exists()
    finally:
        proc.kill()
        proc.wait(timeout=30)
    analyze_folder(inside, out_dir=out, **FAST)  # the lock dies with its holder
    assert (out / "metrics.csv").is_file()


def test_output_path_that_is_a_file_is_refused_before_work(inside, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("not a folder", encoding="utf-8")
    with pytest.raises(OutputFolderError, match="is a file"):
        analyze_folder(inside, out_dir=target, **FAST)


def test_read_only_output_folder_is_refused_even_for_root(inside, tmp_path, monkeypatch):
    """Root passes os.access: the probe file (a real create) is what fails on a read-only mount."""
    import pipelines.outputs.folder as folder

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(folder.tempfile, "mkstemp", read_only)
    calls = []
    import pipelines.batch

    monkeypatch.setattr(pipelines.batch, "analyze_item", lambda *a, **k: calls.append(a))
    with pytest.raises(OutputFolderError, match="not writable.*Read-only file system"):
        analyze_folder(inside, out_dir=tmp_path / "out", **FAST)
    assert not calls


def test_full_disk_is_refused_before_work(inside, tmp_path, monkeypatch):
    import shutil

    import pipelines.outputs.folder as folder

    monkeypatch.setattr(
        folder.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**12, 10**12, 2**20)
    )
    with pytest.raises(OutputFolderError, match="only 1 MiB free"):
        analyze_folder(inside, out_dir=tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists()


def test_run_json_records_the_manifest_picked_up_automatically(inside, tmp_path):
    """Issue 19: run.json said "manifest": null when INPUT/manifest.csv was used."""
    (inside / "manifest.csv").write_text("file,subject,session\nP01_s0_cheek.png,P01,0\n", encoding="utf-8")
    result = analyze_folder(inside, out_dir=tmp_path / "out", **FAST)
    assert result.run_info["manifest"] == "manifest.csv"
    assert (
        json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))["manifest"] == "manifest.csv"
    )
    (inside / "manifest.csv").unlink()
    assert analyze_folder(inside, **FAST).run_info["manifest"] is None


def test_unwritable_overlays_warning_carries_no_path(inside, tmp_path, monkeypatch):
    """Issue 19: OUT/overlays not writable put the absolute path into errors.csv and the report."""
    import pipelines.analyze

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "out" / "overlays" / "x" / "image.jpg"))

    monkeypatch.setattr(pipelines.analyze, "_save_overlay", refuse)
    result = analyze_folder(inside, out_dir=tmp_path / "out", **FAST)
    messages = " ".join(result.errors["message"])
    assert "overlays not written: Permission denied" in messages
    assert (
        str(tmp_path) not in messages and str(tmp_path) not in (tmp_path / "out" / "errors.csv").read_text()
    )
