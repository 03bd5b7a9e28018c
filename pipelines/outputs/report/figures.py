"""The report's figures (trend plots, orientation roses) rendered by matplotlib to SVG/PNG data."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pipelines.outputs.report.format import metric_label, metric_unit, missing, plain, truthy
from pipelines.tables.repeatability import smallest_real_difference


def orientation_figure(distributions: list[tuple[str, pd.Series]]) -> str:
    """Half-rose plots (0-180 deg, counter-clockwise from +x as on screen) side by side."""
    fig = Figure(figsize=(3.4 * len(distributions), 2.0), dpi=110)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.1, top=0.88, wspace=0.3)
    rmax = max(float(d.max()) for _, d in distributions) * 1.08 or 1.0
    for i, (title, dist) in enumerate(distributions, start=1):
        ax = fig.add_subplot(1, len(distributions), i, projection="polar")
        starts = dist.index.to_numpy(float)
        width = float(np.min(np.diff(starts))) if len(starts) > 1 else 180.0
        ax.bar(
            np.deg2rad(starts + width / 2), dist.to_numpy(float), width=np.deg2rad(width),
            color="#1f4e8c" if i == 1 else "#c2185b", alpha=0.8, edgecolor="white", lw=0.6,
        )  # fmt: skip
        ax.set_thetamin(0)
        ax.set_thetamax(180)
        ax.set_rmax(rmax)
        ax.set_xticks(np.deg2rad([0, 45, 90, 135, 180]))
        ax.set_xticklabels(["0°", "45°", "90°", "135°", "180°"], fontsize=8.5)
        ax.set_yticklabels([])
        ax.set_title(title, fontsize=10, pad=2)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def trend_figure(values: pd.DataFrame, metrics: list[str], x_column: str, x_label: str) -> str:
    ncols = min(4, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    # Figure is used directly (no pyplot): no global figure registry, nothing left open.
    width, height = 3.1 * ncols, 2.6 * nrows + 0.5
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    # Fixed margins in inches: a constrained layout would cost a second full draw.
    axes = fig.subplots(
        nrows,
        ncols,
        squeeze=False,
        gridspec_kw={
            "left": 0.72 / width,
            "right": 1 - 0.12 / width,
            "bottom": 0.55 / height,
            "top": 1 - 0.8 / height,
            "wspace": 0.95 / (3.1 - 0.95),
            "hspace": 1.05 / (2.6 - 1.05),
        },
    ).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        rows = values[values["metric"] == metric].copy()
        rows["_x"] = pd.to_numeric(rows[x_column], errors="coerce")
        rows = rows.dropna(subset=["_x"]).sort_values("_x")
        x, y = rows["_x"].to_numpy(float), rows["value"].to_numpy(float)
        baseline, cv = baseline_and_cv(rows)
        srd = band_halfwidth(rows, baseline, cv)
        if not missing(srd):
            ax.axhspan(baseline - srd, baseline + srd, color="#9fb7d9", alpha=0.35, lw=0)
        if not missing(baseline):
            ax.axhline(baseline, color="#52657f", lw=0.8, ls="--")
        ax.plot(x, y, color="#1f4e8c", lw=1.6, marker="o", ms=4.5, zorder=3)
        flagged = beyond_mask(rows, baseline, srd)
        if flagged.any():
            ax.plot(
                x[flagged], y[flagged], ls="none", marker="o", ms=8, mfc="#e07b00",
                mec="#1a1a1a", mew=0.8, zorder=4,
            )  # fmt: skip
        ax.set_title(plain(metric_label(metric, unit=False)), fontsize=11, loc="left")
        unit = metric_unit(metric)
        if unit:
            ax.set_ylabel(plain("degrees" if unit == "°" else unit), fontsize=9.5)
        ax.set_xticks(np.unique(x))
        ax.set_xticklabels([f"{v:g}" for v in np.unique(x)], fontsize=9)
        ax.tick_params(axis="y", labelsize=9)
        ax.set_xlabel(x_label, fontsize=9.5)
        ax.grid(True, axis="y", color="#e3e7ee", lw=0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    fig.legend(
        handles=[
            Line2D([], [], color="#1f4e8c", marker="o", ms=4.5, lw=1.6, label="value"),
            Line2D([], [], color="#52657f", ls="--", lw=0.8, label="baseline"),
            Patch(color="#9fb7d9", alpha=0.35, label="baseline ± SRD (repeatability band)"),
            Line2D(
                [],
                [],
                ls="none",
                marker="o",
                ms=8,
                mfc="#e07b00",
                mec="#1a1a1a",
                label="change beyond repeatability",
            ),
        ],  # fmt: skip
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=4,
        fontsize=9.5,
        frameon=False,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def baseline_and_cv(rows: pd.DataFrame) -> tuple[float, float]:
    baseline = math.nan
    if "baseline_value" in rows:
        known = pd.to_numeric(rows["baseline_value"], errors="coerce").dropna()
        if len(known):
            baseline = float(known.iloc[0])
    if missing(baseline) and len(rows) and "session" in rows:
        first = rows.sort_values("session").iloc[0]
        baseline = float(first["value"])
    cv = math.nan
    if "repeatability_cv" in rows:
        known = pd.to_numeric(rows["repeatability_cv"], errors="coerce").dropna()
        if len(known):
            cv = float(known.iloc[0])
    return baseline, cv


def band_halfwidth(rows: pd.DataFrame, baseline: float, cv: float) -> float:
    """Half-width of the repeatability band around the baseline, in the metric's own unit.

    changes.csv's ``srd`` of the first follow-up when present (it knows the scale, the captures
    averaged and the count floor; in percentage points for fractions, so divided by 100 here), else
    the ratio-scale formula from ``repeatability_cv`` (tables of older runs)."""
    if "srd" in rows:
        srd = pd.to_numeric(rows["srd"], errors="coerce")
        if "session" in rows and (rows["session"] != rows["session"].min()).any():
            srd = srd[rows["session"] != rows["session"].min()]  # follow-ups: their captures count
        srd = srd.dropna()
        if len(srd):
            unit = str(rows["delta_unit"].iloc[0]) if "delta_unit" in rows else ""
            return float(srd.iloc[0]) / (100.0 if unit == "pp" else 1.0)
    if missing(baseline) or missing(cv):
        return math.nan
    return float(smallest_real_difference(baseline, cv))


def beyond_mask(rows: pd.DataFrame, baseline: float, srd: float) -> np.ndarray:
    """Sessions flagged beyond repeatability: changes.csv's own flag, else |value - base| > SRD."""
    if "beyond_repeatability" in rows:
        return rows["beyond_repeatability"].map(truthy).to_numpy(bool)
    if missing(srd):
        return np.zeros(len(rows), bool)
    return (np.abs(rows["value"].to_numpy(float) - baseline) > srd) & (rows["value"].notna())


#: Metrics shown in the trend figure, in this order, when the run has them. Lines: ``line_*`` is every
#: line 0.1-3 mm wide (what ``wrinkle_*`` meant before the width classes; ``wrinkle_*`` is now >= 0.5 mm
#: only). Histology: the measured channel is named after the stain (``texture.stains.measured_names``:
#: H&E ``eosin_*``, VVG ``elastin_*``), polarised PSR reports ``collagen_pol_*``; one image has one of them.
KEY_METRICS: tuple[str, ...] = (
    "pore_mean_diameter_mm",
    "pore_count",
    "spot_area_fraction",
    "ita_deg",
    "melanin_index",
    "erythema_index",
    "line_length_mm_per_cm2",
    "texture_roughness",
    "collagen_area_fraction",
    "collagen_coherency",
    "collagen_pixel_alignment",
    "collagen_pol_area_fraction",
    "collagen_pol_thick_thin_ratio",
    "eosin_area_fraction",
    "eosin_coherency",
    "eosin_pixel_alignment",
    "elastin_area_fraction",
    "elastin_coherency",
    "epidermis_thickness_mean_um",
)


MAX_TREND_METRICS = 12


def select_trend_metrics(available: Iterable[str], *, limit: int = MAX_TREND_METRICS) -> list[str]:
    """Metrics for one subject's trend figure: the key ones present, in ``KEY_METRICS`` order.

    When none of the key metrics is present, the first ``limit`` available ones (sorted) are used
    so that a run with only, say, GLCM features still gets a figure.
    """
    available = list(dict.fromkeys(str(m) for m in available))
    chosen = [m for m in KEY_METRICS if m in available]
    if not chosen:
        chosen = sorted(available)
    return chosen[:limit]
