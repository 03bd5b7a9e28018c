"""Atomic, spreadsheet-safe output files."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from pipelines.io.files import atomic_write
from pipelines.outputs.export import (
    neutralise_formulas,
    restore_formulas,
    write_csv,
    write_json,
    write_parquet,
)


def test_formula_cells_are_neutralised_in_csv_but_exact_in_parquet(tmp_path):
    frame = pd.DataFrame(
        {
            "subject": ['=HYPERLINK("x")', "+1", "-cmd", "@SUM(A1)", "ok", "a=b"],
            "value": [-1.5, 2, 3, 4, 5, 6],
        }
    )
    write_csv(frame, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["subject"].tolist() == ['\'=HYPERLINK("x")', "'+1", "'-cmd", "'@SUM(A1)", "ok", "a=b"]
    assert back["value"].tolist() == [-1.5, 2, 3, 4, 5, 6]  # negative numbers stay numbers
    write_parquet(frame, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), frame)


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "metrics.csv"
    target.write_text("old complete content\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("killed")
    assert target.read_text() == "old complete content\n"
    assert os.listdir(tmp_path) == ["metrics.csv"]


def test_json_writes_nan_as_null(tmp_path):
    write_json({"a": float("nan"), "b": np.float32(1.5), "c": [np.int64(2)]}, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": None, "b": 1.5, "c": [2]}


def test_neutralise_leaves_numbers_alone():
    frame = pd.DataFrame({"x": [-1, 2]})
    pd.testing.assert_frame_equal(neutralise_formulas(frame), frame)


def test_restore_formulas_inverts_neutralisation_for_display(tmp_path):
    frame = pd.DataFrame({"subject": ["=A1", "+x", "plain", "'quoted"], "v": [1.0, -2.0, 3.0, 4.0]})
    write_csv(frame, tmp_path / "t.csv")
    back = restore_formulas(pd.read_csv(tmp_path / "t.csv"))
    pd.testing.assert_frame_equal(back, frame)
