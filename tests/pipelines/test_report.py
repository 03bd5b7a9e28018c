"""Tests for pipelines.outputs.report: the self-contained HTML report of an output folder."""

from __future__ import annotations

import base64
import io
import math
import os
import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipelines.io import files
from pipelines.outputs import report
from pipelines.outputs.report import (
    KEY_METRICS,
    build_report,
    select_trend_metrics,
)
from pipelines.outputs.report import embed as report_embed
from pipelines.outputs.report import views as report_views
from pipelines.outputs.report.figures import MAX_TREND_METRICS
from pipelines.tables.repeatability import smallest_real_difference
from tests.pipelines.report_fixture import (
    HISTOLOGY_SUBJECT,
    HOSTILE_ERROR_MESSAGE,
    HOSTILE_SUBJECT,
    PHOTO_SUBJECT,
    SECRET_EXIF_MAKE,
    SESSION_MARK,
    find_chromium,
    open_in_chromium,
    overlay_folder,
    sha_for,
    write_failed_output,
    write_series_output,
)

# "qc": the quality-control section of issue 14 (de06e72).
SECTIONS = ("summary", "subjects", "cohort", "qc", "errors", "provenance", "methods")
DATA_IMG = re.compile(r'<img src="(data:image/(?:jpeg|png);base64,[A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def series_report(tmp_path_factory) -> tuple[Path, str]:
    out = write_series_output(tmp_path_factory.mktemp("series"))
    path = build_report(out)
    return path, path.read_text(encoding="utf-8")


@pytest.fixture
def trend_calls(monkeypatch) -> list[dict]:
    """Replace the matplotlib figures by a 1-pixel PNG and record what the trend figure was asked
    to draw (for tests about something else: keeps the suite fast on a loaded machine)."""
    calls: list[dict] = []
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    pixel = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

    def record(values, metrics, x_column, x_label):
        calls.append({"metrics": list(metrics), "x_column": x_column, "x_label": x_label})
        return pixel

    monkeypatch.setattr(report_views, "trend_figure", record)
    monkeypatch.setattr(report_views, "orientation_figure", lambda distributions: pixel)
    return calls


def _article(html: str, subject_html: str) -> str:
    """The <article> of the subject whose (escaped) name is ``subject_html``."""
    for part in html.split('<article class="subject"')[1:]:
        body = part.split("</article>")[0]
        if f'<span class="subject-name">{subject_html}</span>' in body:
            return body
    raise AssertionError(f"no article for {subject_html}")


def _panel(article: str, kind: str) -> str:
    """The before/after row of one overlay kind."""
    return article.split(f'data-kind="{kind}"')[1].split('data-kind="')[0]


def _decode(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


# --- formula and selection -------------------------------------------------------------------


def test_smallest_real_difference_is_196_sqrt2_cv_baseline():
    # 1.96 * 1.414213562 * 0.05 * 100 = 13.8593 (hand computed)
    assert smallest_real_difference(100.0, 0.05) == pytest.approx(13.8593, abs=1e-4)
    # ITA can be negative: the band half-width is still positive
    assert smallest_real_difference(-20.0, 0.1) == pytest.approx(5.5437, abs=1e-4)
    assert math.isnan(smallest_real_difference(float("nan"), 0.05))
    assert math.isnan(smallest_real_difference(3.0, None))


def test_select_trend_metrics_keeps_key_order_and_limit():
    available = ["glcm_contrast", "ita_deg", "pore_count", "pore_mean_diameter_mm", "x"]
    assert select_trend_metrics(available) == ["pore_mean_diameter_mm", "pore_count", "ita_deg"]
    many = [*KEY_METRICS, "glcm_contrast"]
    assert select_trend_metrics(many) == list(KEY_METRICS)[:MAX_TREND_METRICS]
    assert len(select_trend_metrics(many, limit=5)) == 5
    # No key metric at all: still a bounded figure of what exists
    others = [f"glcm_f{i:02d}" for i in range(20)]
    assert select_trend_metrics(others) == others[:12]


def test_metric_labels_carry_units():
    assert report.metric_label("pore_mean_diameter_mm") == "Pore mean diameter (mm)"
    assert report.metric_label("ita_deg") == "ITA (°)"
    assert report.metric_label("epidermis_thickness_mean_um").endswith("(µm)")
    assert report.metric_label("wrinkle_length_mm_per_cm2") == "Wrinkle length (mm/cm²)"


# --- the series report ------------------------------------------------------------------------


def test_report_has_sections_subjects_and_no_external_resources(series_report):
    path, html = series_report
    assert path.name == "report.html"
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    assert html.count('<article class="subject"') == 3
    # No script at all, and nothing the browser would fetch
    assert "<script" not in html.lower()
    assert not re.search(r'(?:src|href)\s*=\s*"(?:https?:|//|file:)', html)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html
    images = DATA_IMG.findall(html)
    # p1: image, roi, pores, spots (x2 sessions) = 8; p2: image, collagen, orientation = 6;
    # one trend figure per subject = 3; one orientation rose for the histology subject
    assert len(images) == 8 + 6 + 3 + 1
    for uri in images:
        assert _decode(uri).size[0] > 0


def test_user_data_is_escaped(series_report):
    _, html = series_report
    assert "&lt;b&gt;p3&lt;/b&gt;" in html
    assert "<b>p3</b>" not in html
    assert "<b>" not in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert HOSTILE_ERROR_MESSAGE not in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_before_after_shows_baseline_left_and_latest_right(series_report):
    _, html = series_report
    article = _article(html, PHOTO_SUBJECT)
    row = _panel(article, "image")
    before, after = DATA_IMG.findall(row)
    # The fixture paints the top-left corner red at baseline and blue at the latest session.
    for uri, colour in ((before, SESSION_MARK[0]), (after, SESSION_MARK[3])):
        img = np.asarray(_decode(uri).convert("RGB"), float)
        corner = img[2:10, 2:10].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - colour).max() < 25
    kinds = re.findall(r'data-kind="(\w+)"', article)
    assert kinds == ["image", "roi", "pores", "spots"]
    histology = _article(html, HISTOLOGY_SUBJECT)
    assert re.findall(r'data-kind="(\w+)"', histology) == ["image", "collagen", "orientation"]
    hostile = _article(html, "&lt;b&gt;p3&lt;/b&gt;")
    assert "No overlay images were saved" in hostile


def test_embedded_images_carry_no_exif_and_are_downscaled(series_report, tmp_path):
    _, html = series_report
    source = tmp_path / "src.jpg"
    out = write_series_output(tmp_path / "again")
    folder = overlay_folder(out, PHOTO_SUBJECT, 0)
    source.write_bytes((folder / "image.jpg").read_bytes())
    assert SECRET_EXIF_MAKE.encode() in source.read_bytes()  # the fixture does carry EXIF + GPS
    assert Image.open(source).getexif().get_ifd(0x8825)
    for uri in DATA_IMG.findall(html):
        raw = base64.b64decode(uri.split(",", 1)[1])
        assert b"Exif" not in raw and SECRET_EXIF_MAKE.encode() not in raw
        img = Image.open(io.BytesIO(raw))
        assert not img.getexif()
        assert "icc_profile" not in img.info
        if uri.startswith("data:image/jpeg"):
            assert max(img.size) <= report_embed.IMAGE_MAX_SIDE


def test_change_table_flags_changes_beyond_repeatability(series_report):
    _, html = series_report
    article = _article(html, PHOTO_SUBJECT)
    row = article.split('title="pore_mean_diameter_mm"')[1].split("</tr>")[0]
    cells = re.findall(r'<td class="num( beyond)?">', row)
    # CV 3 % -> SRD = 8.3 % of baseline: the 5 % change is within, 10 % and 15 % beyond.
    assert [bool(c) for c in cells[:4]] == [False, False, True, True]
    assert re.findall(r"[+-]\d+\.\d %", row) == ["-5.0 %", "-10.0 %", "-15.0 %"]
    # SRD column = 1.96 * sqrt(2) * 0.03 * 0.32 mm = 0.02661 mm
    assert "0.02661" in row
    assert "No repeatability estimate" not in article
    # Only the trend metrics are in the main table, the rest behind <details>
    assert 'title="glcm_contrast"' in article.split('<details class="more-metrics">')[1]


def test_orientation_rose_only_where_orientations_exist(series_report):
    _, html = series_report
    histology = _article(html, HISTOLOGY_SUBJECT)
    assert "<h4>Collagen orientation</h4>" in histology
    rose = histology.split('<figure class="orientation">')[1].split("</figure>")[0]
    (uri,) = DATA_IMG.findall(rose)
    assert _decode(uri).format == "PNG"
    assert "Collagen orientation</h4>" not in _article(html, PHOTO_SUBJECT)


def test_trend_axis_is_days_when_known_else_session(tmp_path, trend_calls):
    out = write_series_output(tmp_path / "days", overlays=False)
    html = build_report(out).read_text(encoding="utf-8")
    assert "Each metric against days from baseline" in html
    assert [c["x_column"] for c in trend_calls] == ["days_from_baseline"] * 3
    by_first = {c["metrics"][0]: c["metrics"] for c in trend_calls}
    assert by_first["pore_mean_diameter_mm"] == [m for m in KEY_METRICS[:8]]
    histology = ["collagen_area_fraction", "collagen_coherency", "collagen_pixel_alignment"]
    assert by_first["collagen_area_fraction"] == [*histology, "epidermis_thickness_mean_um"]
    trend_calls.clear()
    changes = (out / "changes.csv").read_text(encoding="utf-8").splitlines()
    header = changes[0].split(",")
    col = header.index("days_from_baseline")
    rows = [line.split(",") for line in changes[1:]]
    for row in rows:
        row[col] = ""
    (out / "changes.csv").write_text(
        "\n".join([",".join(header)] + [",".join(r) for r in rows]), encoding="utf-8"
    )
    html = build_report(out).read_text(encoding="utf-8")
    assert "Each metric against session." in html
    assert "Each metric against days" not in html
    assert [c["x_column"] for c in trend_calls] == ["session"] * 3


def test_cohort_shows_note_when_n_is_small(series_report):
    _, html = series_report
    cohort = html.split('<section id="cohort">')[1].split("</section>")[0]
    assert "n = 2 &lt; 3: too few subjects for a paired test" in cohort
    assert cohort.count("<tr>") >= 1 + 9 * 3  # header + photo metrics x 3 follow-ups


def test_provenance_and_errors_from_run_json(series_report):
    _, html = series_report
    provenance = html.split('<section id="provenance">')[1].split("</section>")[0]
    for text in ("0.1.0", "5.0.0", "baseline skin median L*", "orb+ecc", "color_correction"):
        assert text in provenance
    errors = html.split('<section id="errors">')[1].split("</section>")[0]
    assert errors.count("<tr>") == 3  # header + 2 rows
    assert "RegistrationWarning" in errors
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert re.search(r'card-value">12<.*images analysed', summary)
    assert re.search(r'card-value">1<.*images failed', summary)


# --- failure modes ----------------------------------------------------------------------------


def test_report_builds_when_every_image_failed(tmp_path):
    out = write_failed_output(tmp_path / "failed")
    html = build_report(out).read_text(encoding="utf-8")
    assert "No image was analysed in this run" in html
    assert "run.json could not be read" in html
    assert "DecompressionBombError" in html
    assert "No subject has measurements." in html
    assert "No cohort statistics" in html
    for section in SECTIONS:
        assert f'<section id="{section}">' in html


def test_report_builds_from_an_empty_folder(tmp_path):
    path = build_report(tmp_path)
    html = path.read_text(encoding="utf-8")
    assert "run.json not found" in html
    assert "No errors or warnings were recorded." in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_values_shown_from_metrics_when_changes_missing(tmp_path, trend_calls):
    out = write_series_output(tmp_path / "nochanges", overlays=False)
    (out / "changes.csv").unlink()
    html = build_report(out).read_text(encoding="utf-8")
    assert "changes.csv is missing or empty" in html
    row = _article(html, PHOTO_SUBJECT).split('title="pore_mean_diameter_mm"')[1]
    assert "0.272" in row.split("</tr>")[0]  # 0.32 mm shrunk by 15 %


def test_missing_repeatability_is_said_and_no_band_is_claimed(tmp_path, trend_calls):
    out = write_series_output(tmp_path / "nocv", overlays=False)
    changes = pd.read_csv(out / "changes.csv")
    changes.loc[changes["metric"] == "ita_deg", "repeatability_cv"] = np.nan
    changes.loc[changes["subject"] == HISTOLOGY_SUBJECT, "repeatability_cv"] = np.nan
    changes.to_csv(out / "changes.csv", index=False)
    html = build_report(out).read_text(encoding="utf-8")
    photo = _article(html, PHOTO_SUBJECT)
    assert "No repeatability estimate (CV) for ita_deg: no band" in photo
    assert "No repeatability estimate (CV) for these metrics" in _article(html, HISTOLOGY_SUBJECT)
    row = photo.split('title="ita_deg"')[1].split("</tr>")[0]
    assert row.count("–") == 2  # CV and SRD columns


def test_not_a_directory_is_refused(tmp_path):
    with pytest.raises(NotADirectoryError):
        build_report(tmp_path / "missing")


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path, monkeypatch):
    out = write_failed_output(tmp_path / "atomic")
    (out / "report.html").write_text("old report", encoding="utf-8")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        build_report(out)
    assert (out / "report.html").read_text(encoding="utf-8") == "old report"
    monkeypatch.undo()
    build_report(out)
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["cohort.csv", "errors.csv", "metrics.csv", "report.html", "run.json"]


def test_overlays_outside_the_output_folder_are_not_embedded(tmp_path, trend_calls):
    out = write_series_output(tmp_path / "hostile")
    outside = tmp_path / "outside.jpg"
    Image.new("RGB", (32, 32), (0, 255, 0)).save(outside)
    # A symlinked overlay pointing out of the folder, and a sha256 that is a path
    folder = overlay_folder(out, HISTOLOGY_SUBJECT, 0)
    (folder / "image.jpg").unlink()
    (folder / "image.jpg").symlink_to(outside)
    metrics = (out / "metrics.csv").read_text(encoding="utf-8")
    metrics = metrics.replace(sha_for(PHOTO_SUBJECT, 3), "../../outside" + "0" * 50)
    (out / "metrics.csv").write_text(metrics, encoding="utf-8")
    html = build_report(out).read_text(encoding="utf-8")
    histology = _article(html, HISTOLOGY_SUBJECT)
    image_row = _panel(histology, "image")
    assert len(DATA_IMG.findall(image_row)) == 1  # only the latest; baseline link refused
    photo = _article(html, PHOTO_SUBJECT)
    image_row = _panel(photo, "image")
    assert len(DATA_IMG.findall(image_row)) == 1 and "not available" in image_row


def test_corrupt_overlay_is_skipped(tmp_path, trend_calls):
    out = write_series_output(tmp_path / "corrupt")
    folder = overlay_folder(out, PHOTO_SUBJECT, 0)
    (folder / "pores.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    html = build_report(out).read_text(encoding="utf-8")
    row = _panel(_article(html, PHOTO_SUBJECT), "pores")
    assert len(DATA_IMG.findall(row)) == 1


# --- in a real browser ------------------------------------------------------------------------


def _chromium_or_skip() -> str:
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("CI", "").lower() in {"", "0", "false", "no"}:
            pytest.skip("chromium is not installed (apt-get install -y chromium); CI is not set")
        pytest.fail("CI is set but chromium is not installed (apt-get install -y chromium)")
    return chromium


def test_browser_detects_console_errors_on_a_bad_page(tmp_path):
    """The check below is only worth something if it can fail: a page with a bad script."""
    chromium = _chromium_or_skip()
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body><p>x</p>"
        "<script>console.error('deliberate'); notDefinedAnywhere();</script></body></html>",
        encoding="utf-8",
    )
    check = open_in_chromium(page, chromium=chromium)
    assert check.dom["title"] == "bad"
    assert any("deliberate" in e for e in check.errors)
    assert any("notDefinedAnywhere" in e for e in check.errors)


def test_report_in_headless_chromium(series_report, tmp_path):
    chromium = _chromium_or_skip()
    path, _ = series_report
    shot = tmp_path / "report.png"
    check = open_in_chromium(path, chromium=chromium, screenshot=shot)
    assert check.errors == []
    assert [m for m in check.console if m["type"] == "warning"] == []
    dom = check.dom
    assert dom["title"] == "skintex report"
    assert dom["section_ids"] == list(SECTIONS)
    # the hostile subject name is text, not markup
    assert HOSTILE_SUBJECT in dom["subject_names"] and dom["bold_elements"] == 0
    assert sorted(dom["subject_names"]) == sorted([HOSTILE_SUBJECT, PHOTO_SUBJECT, "p2"])
    assert dom["n_scripts"] == 0
    assert dom["n_change_tables"] >= 3
    assert dom["n_error_rows"] == 2
    assert dom["n_cohort_rows"] > 0
    assert dom["n_images"] == 18
    assert dom["n_images_loaded"] == dom["n_images"]
    assert all(src.startswith("data:image/") for src in dom["image_sources"])
    assert "Before and after" in dom["body_text"] or "BEFORE AND AFTER" in dom["body_text"]
    # a real 1280 x 2000 PNG
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 2000)
