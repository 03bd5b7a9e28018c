"""The metric catalogue: well-formed entries, lookups, clear failures, and docs/metrics.md in step."""

import importlib.util
from pathlib import Path

import pytest

from pipelines.tables import catalogue
from pipelines.tables.catalogue import (
    CATALOGUE,
    lookup,
    outcome_columns,
    qc_columns,
    twin_of,
    unknown_columns,
)

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_entries_are_well_formed():
    for m in CATALOGUE:
        if m.role == "outcome":
            assert m.scale in ("ratio", "interval", "count", "axial", "fraction", "categorical"), m.name
            assert m.method, f"{m.name}: outcome without a method reference"
        if m.repeatability is not None:
            assert m.repeatability_basis in ("literature", "analogy", "assumption"), m.name
            if m.repeatability_basis == "assumption":
                assert "assumption" in m.repeatability_source, m.name
        if m.twin_of is not None:
            assert not lookup(m.twin_of).is_pattern and lookup(m.twin_of).twin_of is None, m.name
        if m.scale == "fraction":
            assert m.name.endswith("_fraction"), m.name


def test_frame_relative_orientation_is_not_an_outcome():
    assert lookup("collagen_orientation_deg").role == "descriptive"


def test_families_and_twins():
    assert lookup("glcm_contrast").scale == "ratio"
    assert lookup("glcm_cluster_shade").name == "glcm_*"  # may be negative: interval
    assert lookup("glcm_cluster_shade").scale == "interval"
    assert twin_of("pore_mean_diameter_px") == "pore_mean_diameter_mm"
    assert twin_of("pore_density_per_mpx") == "pore_density_per_cm2"
    # A new _px column whose physical twin is catalogued needs no entry of its own.
    assert lookup("spot_mean_diameter_px").twin_of == "spot_mean_diameter_mm"
    assert lookup("fibre_width_mean_px").role == "qc"


def test_unknown_column_fails_naming_it():
    with pytest.raises(KeyError, match="'eosin_area_fractionx'"):
        lookup("eosin_area_fractionx")
    assert unknown_columns(["pore_count", "mystery_metric", "file"]) == ["mystery_metric"]
    # A _px column without a catalogued twin is unknown too.
    assert unknown_columns(["mystery_px"]) == ["mystery_px"]


def test_role_selection():
    cols = ["file", "pore_count", "roi_area_px", "exposure_gain", "ita_deg", "collagen_orientation_deg"]
    assert outcome_columns(cols) == ["pore_count", "ita_deg"]
    assert qc_columns(cols) == ["roi_area_px", "exposure_gain"]


def test_malformed_entries_are_refused():
    with pytest.raises(ValueError, match="repeatability needs a basis"):
        catalogue.Metric("x", "", "ratio", "outcome", "d", repeatability=0.1)
    with pytest.raises(ValueError, match="unknown scale"):
        catalogue.Metric("x", "", "nominal", "outcome", "d")  # type: ignore[arg-type]


def test_docs_metrics_md_is_generated_from_the_catalogue():
    spec = importlib.util.spec_from_file_location("make_metrics_doc", DOCS / "make_metrics_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.render()
    assert (DOCS / "metrics.md").read_text(encoding="utf-8") == text, "run python docs/make_metrics_doc.py"
    for m in CATALOGUE:
        assert f"`{m.name}`" in text
