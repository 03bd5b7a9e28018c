"""Test helpers for the HTML report: synthetic output folders and a headless-Chromium driver.

``write_series_output(out)`` writes what ``skintex analyze`` would leave for three subjects x four
sessions (a photo subject with overlays, a histology subject with overlays, and a photo subject
named ``<b>p3</b>`` without overlays); ``write_failed_output(out)`` a run where every image failed.

``open_in_chromium(path)`` loads a page in headless Chromium through the DevTools protocol over a
pipe (``--remote-debugging-pipe``: no websocket package needed), collects console messages,
uncaught exceptions and browser log entries, inspects the DOM and can save a screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import math
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from pipelines.record import overlay_key

PHOTO_SUBJECT = "p1"
HISTOLOGY_SUBJECT = "p2"
HOSTILE_SUBJECT = "<b>p3</b>"
SESSIONS = (0, 1, 2, 3)
DATES = ("2025-01-06", "2025-01-20", "2025-02-03", "2025-05-05")
DAYS = (0, 14, 28, 119)
#: Pore diameter shrinks 5, 10, 15 % over the follow-ups of the photo subject.
PORE_SHRINK = (0.0, 0.05, 0.10, 0.15)
#: Repeatability CV per metric used to write changes.csv (fraction).
CV = {
    "pore_mean_diameter_mm": 0.03,
    "pore_count": 0.08,
    "spot_area_fraction": 0.10,
    "ita_deg": 0.04,
    "melanin_index": 0.03,
    "erythema_index": 0.04,
    "line_length_mm_per_cm2": 0.12,
    "texture_roughness": 0.06,
    "glcm_contrast": 0.07,
    "collagen_area_fraction": 0.05,
    "collagen_orientation_deg": 0.10,
    "collagen_coherency": 0.06,
    "collagen_pixel_alignment": 0.06,
    "epidermis_thickness_mean_um": 0.05,
    "fibre_count": 0.10,
}
#: Marker colour painted in the top-left corner of the photo subject's ``image`` overlays, per
#: session, so a test can tell baseline from latest after JPEG re-encoding.
SESSION_MARK = {0: (230, 30, 30), 3: (30, 30, 230)}
SECRET_EXIF_MAKE = "SecretCamMake"
HOSTILE_ERROR_MESSAGE = "<script>alert('x')</script> bad header"


def sha_for(subject: str, session: int) -> str:
    """A deterministic fake sha256 (64 hex digits) for a subject's session image."""
    seed = sum(map(ord, subject)) * 97 + session
    rng = np.random.default_rng(seed)
    return "".join(f"{v:02x}" for v in rng.integers(0, 256, 32))


def _photo(session: int, size: tuple[int, int] = (360, 270)) -> tuple[np.ndarray, list]:
    """Skin-toned photo phantom with pores shrinking over the sessions; returns (rgb, pores)."""
    rng = np.random.default_rng(7)
    cols, rows = size
    yy, xx = np.mgrid[0:rows, 0:cols]
    shade = 0.92 + 0.05 * np.sin(xx / 47.0) * np.cos(yy / 61.0)
    rgb = np.stack([224 * shade, 172 * shade, 148 * shade], axis=-1)
    rgb += rng.normal(0, 3, rgb.shape)
    centres = rng.uniform((12, 12), (rows - 12, cols - 12), size=(70, 2))
    radius = 3.2 * (1 - PORE_SHRINK[session])
    pores = []
    for r, c in centres:
        window, dist = _around(r, c, rgb.shape)
        rgb[window][dist <= radius] *= 0.62
        pores.append((r, c, radius))
    for r0, c0, r1 in ((60, 30, 200), (190, 120, 300)):  # two faint lines, "wrinkles"
        t = np.linspace(0, 1, 400)
        rr = (r0 + (r1 - r0) * 0.1 * np.sin(t * 6)).astype(int)
        cc = (c0 + t * 200).astype(int).clip(0, cols - 1)
        rgb[rr.clip(0, rows - 1), cc] *= 0.8
    return rgb.clip(0, 255).astype(np.uint8), pores


def _outline(rgb: np.ndarray, pores: list, colour: tuple[int, int, int]) -> np.ndarray:
    out = (rgb * 0.85).astype(np.uint8)
    for r, c, radius in pores:
        window, dist = _around(r, c, rgb.shape)
        out[window][(dist >= radius + 0.5) & (dist <= radius + 1.8)] = colour
    return out


def _around(r: float, c: float, shape: tuple, half: int = 8) -> tuple[tuple[slice, slice], Any]:
    """A small window around (r, c) and the distance of its pixels to (r, c)."""
    r0, c0 = max(int(r) - half, 0), max(int(c) - half, 0)
    r1, c1 = min(int(r) + half + 1, shape[0]), min(int(c) + half + 1, shape[1])
    yy, xx = np.mgrid[r0:r1, c0:c1]
    return (slice(r0, r1), slice(c0, c1)), np.hypot(yy - r, xx - c)


def _histology(session: int, size: tuple[int, int] = (360, 270)) -> tuple[np.ndarray, np.ndarray]:
    """Picrosirius-like fibre field and a hue-coded orientation map."""
    cols, rows = size
    yy, xx = np.mgrid[0:rows, 0:cols]
    angle = np.deg2rad(30 + 6 * session)
    phase = xx * np.sin(angle) - yy * np.cos(angle)
    fibres = 0.5 + 0.5 * np.sin(phase / 3.0 + 0.4 * np.sin(yy / 25.0))
    red = 0.35 + 0.6 * fibres
    rgb = np.stack([0.55 + 0.4 * red, 0.78 - 0.55 * fibres, 0.70 - 0.45 * fibres], -1)
    local = (np.rad2deg(angle) + 25 * np.sin(xx / 60.0) * np.cos(yy / 45.0)) % 180
    hsv = np.stack([local / 180.0, np.full_like(local, 0.8), 0.35 + 0.6 * fibres], -1)
    orientation = np.asarray(
        Image.fromarray((hsv * 255).astype(np.uint8), "HSV").convert("RGB"), dtype=np.uint8
    )
    return (rgb.clip(0, 1) * 255).astype(np.uint8), orientation


def _save_jpeg(path: Path, rgb: np.ndarray, *, exif_secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(rgb, "RGB")
    if exif_secret:
        exif = Image.Exif()
        exif[0x010F] = SECRET_EXIF_MAKE
        exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 1.0)}
        image.save(path, "JPEG", quality=90, exif=exif)
    else:
        image.save(path, "JPEG", quality=90)


def _metric_rows(hostile_name: str) -> list[dict[str, Any]]:
    rows = []
    for s, session in enumerate(SESSIONS):
        shrink = PORE_SHRINK[s]
        base = {"session": session, "date": DATES[s], "region": "cheek"}
        rows.append(
            {
                **base,
                "subject": PHOTO_SUBJECT,
                "modality": "photo",
                "stain": "",
                "px_per_mm": 20.0,
                "pore_count": 70 - 2 * s,
                "pore_mean_diameter_mm": 0.32 * (1 - shrink),
                "spot_area_fraction": 0.061 - 0.006 * s,
                "ita_deg": 38.0 + 0.4 * s,
                "melanin_index": 0.41 - 0.01 * s,
                "erythema_index": 0.22 + 0.004 * s,
                "line_length_mm_per_cm2": 41.0 - 3.5 * s,
                "texture_roughness": 0.118 - 0.004 * s,
                "glcm_contrast": 5.4 - 0.2 * s,
                "registration_error_px": math.nan if s == 0 else 0.6 + 0.1 * s,
                "color_delta_e_after": 1.2 + 0.1 * s,
            }
        )
        rows.append(
            {
                **base,
                "subject": hostile_name,
                "region": "forehead",
                "modality": "photo",
                "stain": "",
                "px_per_mm": 20.0,
                "pore_count": 55 + s,
                "pore_mean_diameter_mm": 0.28 * (1 + 0.003 * s),
                "spot_area_fraction": 0.04,
                "ita_deg": 25.0 - 0.2 * s,
                "melanin_index": 0.48,
                "erythema_index": 0.19,
                "line_length_mm_per_cm2": 30.0 + 0.5 * s,
                "texture_roughness": 0.1,
                "glcm_contrast": 4.9,
                "registration_error_px": math.nan if s == 0 else 0.8,
                "color_delta_e_after": 1.5,
            }
        )
        rows.append(
            {
                **base,
                "subject": HISTOLOGY_SUBJECT,
                "region": "forearm",
                "modality": "histology",
                "stain": "psr",
                "px_per_mm": 2000.0,
                "collagen_area_fraction": 0.42 + 0.03 * s,
                "collagen_orientation_deg": 30.0 + 6 * s,
                "collagen_coherency": 0.35 + 0.04 * s,
                "collagen_pixel_alignment": 0.30 + 0.05 * s,
                "epidermis_thickness_mean_um": 78.0 + 2.0 * s,
                "fibre_count": 310 + 12 * s,
            }
        )
    for row in rows:
        row["file"] = f"{row['subject']}/s{row['session']}.jpg"
        row["sha256"] = sha_for(row["subject"], row["session"])
        row["width_px"], row["height_px"] = 360, 270
    identity = ["file", "sha256", "subject", "session", "date", "modality", "region", "stain"]
    identity += ["px_per_mm", "width_px", "height_px"]
    return [{k: row.get(k, math.nan) for k in identity} | row for row in rows]


def _changes(metrics: pd.DataFrame) -> pd.DataFrame:
    """changes.csv as the integrator specifies it (SRD = 1.96 sqrt(2) CV baseline)."""
    metric_names = [m for m in CV if m in metrics]
    long = metrics.melt(
        id_vars=["subject", "region", "modality", "session", "date"],
        value_vars=metric_names,
        var_name="metric",
    ).dropna(subset=["value"])
    long = long.sort_values(["subject", "region", "metric", "session"]).reset_index(drop=True)
    keys = ["subject", "region", "metric"]
    long["days_from_baseline"] = long["session"].map(dict(zip(SESSIONS, DAYS, strict=True)))
    long["baseline_value"] = long.groupby(keys)["value"].transform("first")
    long["delta"] = long["value"] - long["baseline_value"]
    long["pct_change"] = 100 * long["delta"] / long["baseline_value"]
    long["previous_value"] = long.groupby(keys)["value"].shift(1)
    long["delta_previous"] = long["value"] - long["previous_value"]
    long["pct_change_previous"] = 100 * long["delta_previous"] / long["previous_value"]
    long["repeatability_cv"] = long["metric"].map(CV)
    srd = 1.96 * math.sqrt(2) * long["repeatability_cv"] * long["baseline_value"].abs()
    long["beyond_repeatability"] = (long["delta"].abs() > srd) & (long["session"] > 0)
    columns = ["subject", "region", "modality", "metric", "session", "date"]
    columns += ["days_from_baseline", "value", "baseline_value", "delta", "pct_change"]
    columns += ["previous_value", "delta_previous", "pct_change_previous"]
    columns += ["repeatability_cv", "beyond_repeatability"]
    return long[columns]


def _cohort(changes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    follow = changes[changes["session"] > 0]
    for (metric, session), part in follow.groupby(["metric", "session"]):
        n = part["subject"].nunique()
        rows.append(
            {
                "metric": metric,
                "session": session,
                "n_subjects": n,
                "pct_change_mean": part["pct_change"].mean(),
                "pct_change_median": part["pct_change"].median(),
                "pct_change_sd": part["pct_change"].std(),
                "test": "" if n < 3 else "wilcoxon",
                "p_value": math.nan,
                "note": f"n = {n} < 3: too few subjects for a paired test" if n < 3 else "",
            }
        )
    return pd.DataFrame(rows)


def _orientations(metrics: pd.DataFrame) -> pd.DataFrame:
    """18 bins of 10 deg per histology image, peaked at ``collagen_orientation_deg``."""
    rows = []
    identity = ["file", "sha256", "subject", "session", "date", "modality", "region", "stain"]
    for rec in metrics[metrics["modality"] == "histology"].to_dict("records"):
        centres = np.arange(5.0, 180.0, 10.0)
        diff = np.deg2rad(centres - rec["collagen_orientation_deg"])
        weight = np.exp(2.0 * np.cos(2 * diff))  # axial von Mises
        for start, fraction in zip(centres - 5.0, weight / weight.sum(), strict=True):
            rows.append({**{k: rec[k] for k in identity}, "bin_start_deg": start, "fraction": fraction})
    return pd.DataFrame(rows)


def write_series_output(
    out: Path,
    *,
    hostile_name: str = HOSTILE_SUBJECT,
    session_marks: bool = True,
    overlays: bool = True,
) -> Path:
    """Write a finished 3 subjects x 4 sessions output folder into ``out`` and return it.

    ``hostile_name`` names the third (photo, no overlays) subject; ``session_marks`` paints the
    ``SESSION_MARK`` corners into the photo subject's images; ``overlays=False`` writes the
    tables only.
    """
    out.mkdir(parents=True, exist_ok=True)
    metrics = pd.DataFrame(_metric_rows(hostile_name))
    metrics.to_csv(out / "metrics.csv", index=False)
    changes = _changes(metrics)
    changes.to_csv(out / "changes.csv", index=False)
    _cohort(changes).to_csv(out / "cohort.csv", index=False)
    pd.DataFrame(
        [
            {
                "file": '\'=HYPERLINK("x").jpg',
                "stage": "decode",
                "error_type": "UnidentifiedImageError",
                "message": HOSTILE_ERROR_MESSAGE,
            },
            {
                "file": f"{PHOTO_SUBJECT}/s2.jpg",
                "stage": "warning",
                "error_type": "RegistrationWarning",
                "message": "alignment residual 2.1 px above 2.0 px",
            },
        ]
    ).to_csv(out / "errors.csv", index=False)
    run = {
        "versions": {"skintex": "0.1.0", "numpy": "2.4.0", "opencv": "5.0.0", "python": "3.11"},
        "config": {
            "input": "clinic/<img src=x onerror=alert(1)>",
            "registration": {"enabled": True, "method": "orb+ecc"},
            "glcm": {"levels": 32, "range": "robust 0.5-99.5 percentile"},
        },
        "started": "2025-05-06T09:00:00+00:00",
        "finished": "2025-05-06T09:03:12+00:00",
        "counts": {"images": 12, "analysed": 12, "failed": 1, "warnings": 1},
        "color_correction": {"method": "exposure", "reference": "baseline skin median L*"},
    }
    (out / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    _orientations(metrics).to_csv(out / "orientations.csv", index=False)
    if overlays:
        _write_overlays(out, session_marks=session_marks)
    return out


def overlay_folder(out: Path, subject: str, session: int) -> Path:
    """Where the pipeline puts the overlays of a subject's session image (see ``overlay_key``)."""
    return out / "overlays" / overlay_key(sha_for(subject, session), f"{subject}/s{session}.jpg")


def _write_overlays(out: Path, *, session_marks: bool) -> None:

    for s, session in enumerate(SESSIONS):
        photo, pores = _photo(s)
        folder = overlay_folder(out, PHOTO_SUBJECT, session)
        image = photo.copy()
        if session_marks and session in SESSION_MARK:
            image[:40, :40] = SESSION_MARK[session]
        _save_jpeg(folder / "image.jpg", image, exif_secret=True)
        _save_jpeg(folder / "pores.jpg", _outline(photo, pores, (40, 220, 90)))
        _save_jpeg(folder / "spots.jpg", _outline(photo, pores[:12], (250, 200, 0)))
        roi = photo.copy()
        roi[:, :24] //= 3
        roi[:, -24:] //= 3
        _save_jpeg(folder / "roi.jpg", roi)
        fibres, orientation = _histology(s)
        folder = overlay_folder(out, HISTOLOGY_SUBJECT, session)
        _save_jpeg(folder / "image.jpg", fibres)
        _save_jpeg(folder / "orientation.jpg", orientation)
        collagen = np.where(fibres[..., 1:2] < 120, np.array([200, 30, 60]), 255).astype(np.uint8)
        _save_jpeg(folder / "collagen.jpg", collagen)


def write_failed_output(out: Path) -> Path:
    """A run where every image failed: empty metrics.csv, no changes.csv, header-only
    cohort.csv, errors.csv with rows, and an unreadable run.json."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.csv").write_text("", encoding="utf-8")
    (out / "cohort.csv").write_text(
        "metric,session,n_subjects,pct_change_mean,pct_change_median,pct_change_sd,test,p_value\n",
        encoding="utf-8",
    )
    pd.DataFrame(
        {
            "file": ["a.jpg", "b.png"],
            "stage": ["decode", "decode"],
            "error_type": ["UnidentifiedImageError", "DecompressionBombError"],
            "message": ["cannot identify image file", "image has 1e10 pixels > limit"],
        }
    ).to_csv(out / "errors.csv", index=False)
    (out / "run.json").write_text("{ not json", encoding="utf-8")
    return out


# ---------------------------------------------------------------------------------------------
# Headless Chromium through the DevTools protocol over a pipe

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-pipe",
)

# Evaluated in the page: what the test asserts about the rendered DOM.
DOM_PROBE = """
(() => {
  const imgs = Array.from(document.images);
  return {
    title: document.title,
    section_ids: Array.from(document.querySelectorAll('section[id]')).map(s => s.id),
    subject_names: Array.from(document.querySelectorAll('.subject-name')).map(e => e.textContent),
    n_tables: document.querySelectorAll('table').length,
    n_change_tables: document.querySelectorAll('table.changes-table').length,
    n_cohort_rows: document.querySelectorAll('table.cohort-table tbody tr').length,
    n_error_rows: document.querySelectorAll('table.errors-table tbody tr').length,
    n_images: imgs.length,
    n_images_loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    image_sources: imgs.map(i => i.src.slice(0, 22)),
    n_scripts: document.scripts.length,
    bold_elements: document.querySelectorAll('b').length,
    body_text: document.body.innerText,
  };
})()
"""


@dataclass
class PageCheck:
    """What a page did in the browser."""

    console: list[dict[str, str]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_entries: list[dict[str, str]] = field(default_factory=list)
    dom: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        """Console errors/asserts, uncaught exceptions and browser error log entries."""
        found = [f"console.{m['type']}: {m['text']}" for m in self.console if m["type"] in
                 {"error", "assert"}]  # fmt: skip
        found += [f"exception: {e}" for e in self.exceptions]
        found += [f"log {m['source']}: {m['text']}" for m in self.log_entries
                  if m["level"] == "error"]  # fmt: skip
        return found


def find_chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _high_fd(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class _DevToolsPipe:
    def __init__(self, chromium: str, profile: str) -> None:
        to_browser_r, self._to_browser = (_high_fd(fd) for fd in os.pipe())
        self._from_browser, from_browser_w = (_high_fd(fd) for fd in os.pipe())

        def map_pipe_fds() -> None:
            # Chromium reads commands on fd 3 and writes replies on fd 4. The pipe ends sit at
            # fd >= 10 (close-on-exec), so mapping one cannot clobber the other.
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        args = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
        self.log = Path(profile) / "chromium-stderr.log"
        with open(self.log, "wb") as stderr:
            self.process = subprocess.Popen(
                [chromium, *args],
                close_fds=False,  # keep the dup2'ed fds 3 and 4; everything else is CLOEXEC
                preexec_fn=map_pipe_fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:  # fmt: skip
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        if any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            return
        while True:
            event = self._receive(deadline)
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no reply from Chromium")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    tail = self.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"Chromium closed the DevTools pipe; stderr:\n{tail}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            os.write(self._to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode()
                     + b"\0")  # fmt: skip
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)


def open_in_chromium(
    page: Path,
    *,
    chromium: str,
    screenshot: Path | None = None,
    width: int = 1280,
    height: int = 2000,
    timeout: float = 40.0,
) -> PageCheck:
    """Load ``page`` in headless Chromium and report console errors, exceptions and the DOM."""
    with tempfile.TemporaryDirectory(prefix="skintex-chromium-") as profile:
        browser = _DevToolsPipe(chromium, profile)
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
            attached = browser.send(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )
            session = attached["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                browser.send(f"{domain}.enable", session=session)
            browser.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            browser.send("Emulation.setScrollbarsHidden", {"hidden": True}, session=session)
            browser.events.clear()
            browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            browser.wait_for("Page.loadEventFired", session, timeout=timeout)
            probe = browser.send(
                "Runtime.evaluate",
                {"expression": DOM_PROBE, "returnByValue": True},
                session=session,
            )
            check = PageCheck(dom=probe["result"].get("value", {}))
            if screenshot is not None:
                shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.close()
    for event in browser.events:
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            check.console.append({"type": params.get("type", ""), "text": text})
        elif event.get("method") == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception", {})
            check.exceptions.append(exc.get("description") or details.get("text", ""))
        elif event.get("method") == "Log.entryAdded":
            entry = params.get("entry", {})
            check.log_entries.append({k: str(entry.get(k, "")) for k in ("source", "level", "text", "url")})
    return check
