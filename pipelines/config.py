"""Run settings: defaults, YAML config file, command-line overrides, validated up front."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.io.decode import default_max_pixels
from pipelines.io.metadata import MetadataError, compile_pattern
from texture._compat import REMOVED_IN
from texture.measurement import check_scale
from texture.skin_glcm import DEFAULT_GLCM_FEATURES

__all__ = [
    "Settings",
    "load_config",
    "BACKENDS",
    "COLOR_CORRECTIONS",
    "PHOTO_OPTIONS",
    "photo_options",
    "FACE_DEFAULTS",
    "face_options",
    "STICKER_DEFAULTS",
    "sticker_options",
    "HISTOLOGY_DEFAULTS",
    "histology_options",
    "collagen_kwargs",
    "with_batch",
]

BACKENDS = ("serial", "processes", "dask")
COLOR_CORRECTIONS = ("auto", "exposure", "none")
#: Config keys renamed in 0.2 (one spelling, "color", as scikit-image and OpenCV): old key -> new key.
RENAMED_KEYS = {"colour_correction": "color_correction"}


#: Longest accepted per-image time limit: one day (the interval timer overflows far beyond it).
MAX_TIME_LIMIT_S = 86_400.0
#: Default per-image time limit: 30 min. A camera photo takes seconds and a histology field under a minute;
#: an image still running after 30 min has a wrong scale or a pathological input, and must not hold the
#: batch. Whole slides analysed tile by tile can need longer: raise it, or ``time_limit_s: null`` for none.
DEFAULT_TIME_LIMIT_S = 1800.0
#: A config is a few lines of YAML: anything larger is not one.
MAX_CONFIG_BYTES = 1 * 2**20
#: Longest error message about a config value (the value is cut to fit).
MAX_MESSAGE_CHARS = 300


def _whole(value: Any) -> bool:
    """An int that is not a bool (YAML ``yes`` is True, and True is an int in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Settings:
    """Everything that shapes a run. Options that change the numbers enter :meth:`analysis_key`.

    Attributes
    ----------
    px_per_mm : float or None
        Scale for images without one from the manifest or their own metadata.
    pattern : str or None
        File-name regex (named groups) used without a manifest; None = the documented default.
    backend, workers, scheduler : execution (see ``pipelines.batch``).
    max_pixels : int
        Refuse images whose header declares more pixels (decompression bombs). Default: what the
        memory available at start-up holds with one image per core
        (:func:`pipelines.io.decode.default_max_pixels`, at most 250 megapixels).
    tile_above_pixels : int
        Histology TIFFs (and OpenSlide formats) larger than this are analysed tile by tile.
    slide_tile_px : int
        Side of one tile (memory grows with its square).
    time_limit_s : float or None
        Per-image time limit in seconds (enforced inside the worker); default
        :data:`DEFAULT_TIME_LIMIT_S`, None for no limit.
    register : bool
        Align each follow-up photo to its subject/region baseline; both are then measured on their common
        region (:mod:`pipelines.assays.alignment`).
    color_correction : {"auto", "exposure", "none"}
        ``auto``: colour chart when one is detected (colour indices calibrated), else the follow-up's
        structure metrics are measured after exposure normalisation to the baseline over the common
        region; colour indices (ITA, melanin, erythema) are never normalised to the baseline's skin.
    glcm_levels : int or None
        None (default): photo texture on L* with the IBSI fixed bin width (``glcm_bin_width`` photo
        option, 1 L* unit; :mod:`texture.skin_glcm`). A number: the former fixed bin number over each
        image's robust 0.5-99.5 percentile range (blind to a uniform change of contrast).
    photo, histology : dict
        Options passed to :func:`pipelines.assays.photo.analyze_photo` /
        :func:`pipelines.assays.histology.analyze_histology`.
    histology_batch : dict
        Per stain, values fixed for the whole study: ``threshold`` (collagen threshold, OD units) and
        ``stain_vectors`` (RGB OD vectors). Filled by the run when ``histology.threshold`` is
        ``batch`` or ``histology.stain_vectors`` is ``estimate`` (and recorded in ``run.json``); set
        it by hand (e.g. copied from an earlier run.json) to threshold later sessions alike.
    cache : bool
        Keep and reuse per-image results in ``OUT/cache`` (resume after a crash).
    overlays : bool
        Write overlay images for the report.
    force_scale : bool
        Accept scales outside the plausible range of their modality (:mod:`pipelines.io.scale`).
    """

    px_per_mm: float | None = None
    pattern: str | None = None
    backend: str = "auto"
    workers: int | None = None
    scheduler: str | None = None
    max_pixels: int = field(default_factory=default_max_pixels)
    tile_above_pixels: int = 40_000_000
    slide_tile_px: int = 2048
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S
    register: bool = True
    color_correction: str = "auto"
    glcm_levels: int | None = None
    photo: dict[str, Any] = field(default_factory=dict)
    histology: dict[str, Any] = field(default_factory=dict)
    histology_batch: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache: bool = True
    overlays: bool = True
    force_scale: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, where: str = "settings") -> None:
        def bad(key: str, why: str) -> MetadataError:
            return MetadataError(_capped(f"{where}: '{key}' {why}"))

        if self.px_per_mm is not None:
            if isinstance(self.px_per_mm, bool) or not isinstance(self.px_per_mm, (int, float)):
                raise bad("px_per_mm", f"must be a positive number, got {self.px_per_mm!r}")
            try:  # one rule for every scale (texture.measurement.check_scale); 20 and 20.0 share a cache key
                self.px_per_mm = check_scale(self.px_per_mm)
            except ValueError:
                raise bad("px_per_mm", f"must be a positive number, got {self.px_per_mm!r}") from None
        if self.pattern is not None:
            compile_pattern(self.pattern)
        if self.backend not in (*BACKENDS, "auto"):
            raise bad("backend", f"must be one of auto, {', '.join(BACKENDS)}; got {self.backend!r}")
        if self.workers is not None and (not _whole(self.workers) or self.workers < 1):
            raise bad("workers", f"must be a whole number >= 1, got {self.workers!r}")
        if self.scheduler is not None and not isinstance(self.scheduler, str):
            raise bad("scheduler", f"must be an address such as tcp://host:8786, got {self.scheduler!r}")
        if not _whole(self.max_pixels) or self.max_pixels < 1:
            raise bad("max_pixels", f"must be a whole number >= 1, got {self.max_pixels!r}")
        if not _whole(self.tile_above_pixels) or self.tile_above_pixels < 1:
            raise bad("tile_above_pixels", f"must be a whole number >= 1, got {self.tile_above_pixels!r}")
        if not _whole(self.slide_tile_px) or self.slide_tile_px < 64:
            raise bad("slide_tile_px", f"must be a whole number >= 64, got {self.slide_tile_px!r}")
        if self.time_limit_s is not None:
            # YAML reads 1e300 (no dot) as text and yes as True; the timer takes at most ~68 years.
            limit = self.time_limit_s
            if (
                isinstance(limit, bool)
                or not isinstance(limit, (int, float))
                or not 0 < limit <= MAX_TIME_LIMIT_S
            ):
                raise bad(
                    "time_limit_s",
                    f"must be a number of seconds in (0, {MAX_TIME_LIMIT_S:g}], got {limit!r}",
                )
            self.time_limit_s = float(limit)
        for key in ("register", "cache", "overlays", "force_scale"):
            # A quoted 'no' is a non-empty string, which Python would read as True.
            if not isinstance(getattr(self, key), bool):
                raise bad(key, f"must be true or false, got {getattr(self, key)!r}")
        if self.color_correction not in COLOR_CORRECTIONS:
            raise bad("color_correction", f"must be one of {', '.join(COLOR_CORRECTIONS)}")
        if self.glcm_levels is not None and (
            not isinstance(self.glcm_levels, int) or not 2 <= self.glcm_levels <= 256
        ):
            raise bad("glcm_levels", f"must be a whole number in 2..256, got {self.glcm_levels!r}")
        for key in ("photo", "histology"):
            if not isinstance(getattr(self, key), dict):
                raise bad(key, "must be a mapping of options")
        if self.photo:  # a typo must stop the run here, not fail every photo one by one
            try:
                photo_options(self.photo)
            except ValueError as exc:
                raise bad("photo", str(exc)) from None
        if self.histology:  # a typo must stop the run here, not fail every slide one by one

            def check(options: dict[str, Any]) -> None:
                collagen_kwargs(histology_options(options), stain="psr")

            try:
                check(self.histology)
            except (TypeError, ValueError) as exc:
                for key, value in self.histology.items():  # name the option at fault when one alone is
                    try:
                        check({key: value})
                    except (TypeError, ValueError) as one:
                        raise bad(f"histology.{key}", str(one)) from None
                raise bad("histology", str(exc)) from None
        if not isinstance(self.histology_batch, dict):
            raise bad("histology_batch", "must be a mapping of stain -> {threshold, stain_vectors}")
        for stain, values in self.histology_batch.items():
            if not isinstance(values, dict) or set(values) - set(BATCH_KEYS):
                raise bad(
                    f"histology_batch.{stain}", f"must be a mapping with any of {', '.join(BATCH_KEYS)}"
                )
            try:
                opts = with_batch({"threshold": "batch", "stain_vectors": "estimate"}, values)
                collagen_kwargs(histology_options(opts), stain="psr")
            except (TypeError, ValueError) as exc:
                raise bad(f"histology_batch.{stain}", str(exc)) from None

    def analysis_key(self) -> str:
        """Hash of the settings that change measured values (not of execution or output options)."""
        relevant = {
            k: v
            for k, v in dataclasses.asdict(self).items()
            if k
            # max_pixels refuses images, never changes a number (and its default follows the memory)
            not in (
                "backend",
                "workers",
                "scheduler",
                "cache",
                "time_limit_s",
                "overlays",
                "force_scale",
                "max_pixels",
            )
        }
        blob = json.dumps(relevant, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from a YAML file (optional) with non-None keyword overrides (CLI flags) on top.

    Unknown keys and wrong types are reported with the file name and key.
    """
    values: dict[str, Any] = {}
    where = "settings"
    if path is not None:
        path = Path(path)
        where = path.name  # the name only: messages must not carry a user's folders
        values.update(_read_config(path, where))
    values.update({k: v for k, v in overrides.items() if v is not None})
    for old_key, new_key in RENAMED_KEYS.items():
        if old_key in values:
            warnings.warn(
                f"{where}: config key {old_key!r} is renamed {new_key!r}; the old key goes in {REMOVED_IN}",
                DeprecationWarning,
                stacklevel=2,
            )
            values.setdefault(new_key, values.pop(old_key))
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise MetadataError(
            _capped(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
            + f"; known: {', '.join(sorted(known))}"
        )
    try:
        settings = Settings.__new__(Settings)
        for f in dataclasses.fields(Settings):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            setattr(settings, f.name, values.get(f.name, default))
        settings.validate(where)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, MetadataError):
            raise
        raise MetadataError(_capped(f"{where}: {exc}")) from None
    return settings


def _capped(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message cut to ``limit`` characters: a value pasted by mistake must not become a 300 MB line."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a config never needs them, and a few nested aliases expand to
    billions of values (the "billion laughs") in every later copy, hash or message of the settings."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise MetadataError(
                f"line {event.start_mark.line + 1}: YAML aliases (*name) are not allowed in a config"
            )
        return super().compose_node(parent, index)


#: Deepest nesting a config may have (the deepest real option is 3 levels down).
MAX_CONFIG_DEPTH = 32


def _check_depth(text: str) -> None:
    """Refuse deep nesting from the event stream (linear, not recursive) before the recursive composer
    spends seconds and the stack on 5000 nested brackets."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_CONFIG_DEPTH:
                raise MetadataError(f"nested deeper than {MAX_CONFIG_DEPTH} levels: not a config")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _read_config(path: Path, where: str) -> dict[str, Any]:
    """The YAML mapping in ``path``; every way of failing becomes a :class:`MetadataError` line."""
    if not path.exists():
        raise MetadataError(f"config file {where!r} does not exist")
    if not path.is_file():
        raise MetadataError(f"config {where!r} is not a file (a folder?): give the YAML file itself")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise MetadataError(
                f"{where}: larger than {MAX_CONFIG_BYTES // 2**20} MiB: is it really a config?"
            )
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise MetadataError(f"{where}: not UTF-8 text; save the config as UTF-8") from None
    except OSError as exc:
        raise MetadataError(
            f"{where}: cannot read the config ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        _check_depth(text)
        loaded = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except MetadataError as exc:
        raise MetadataError(f"{where}: {exc}") from None
    except RecursionError:
        raise MetadataError(f"{where}: nested too deeply to be a config") from None
    except yaml.YAMLError as exc:
        raise MetadataError(_capped(f"{where}: not valid YAML: {exc}")) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise MetadataError(f"{where}: the config must be a mapping of key: value")
    return loaded


#: Every option :func:`analyze_photo` understands.
PHOTO_OPTIONS = (
    "glcm_levels",
    "glcm_bin_width",
    "glcm_features",
    "skin_mask",
    "pores",
    "spots",
    "wrinkles",
    "roughness",
    "face",
    "sticker",
)

#: Defaults of the photo option ``face`` (full-face photos: zones, iris scale, pose check; see
#: :mod:`pipelines.assays.face`).
FACE_DEFAULTS: dict[str, Any] = {
    "zones": "auto",
    "landmark_model": "5",
    "min_field_mm": 100.0,
    "pose_limit_deg": {"yaw": 5.0, "pitch": 5.0},
    "red": {},
}


def face_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``face`` photo option merged over :data:`FACE_DEFAULTS`; ``ValueError`` for bad keys/values."""
    given = dict(options or {})
    unknown = sorted(set(given) - set(FACE_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown face option(s) {unknown}; known: {sorted(FACE_DEFAULTS)}")
    out = {**FACE_DEFAULTS, **given}
    if out["zones"] not in ("auto", True, False):
        raise ValueError(f"face.zones must be auto, true or false, got {out['zones']!r}")
    if str(out["landmark_model"]) not in ("5", "68"):
        raise ValueError(f"face.landmark_model must be 5 or 68, got {out['landmark_model']!r}")
    out["landmark_model"] = str(out["landmark_model"])
    if isinstance(out["min_field_mm"], bool) or not isinstance(out["min_field_mm"], (int, float)):
        raise ValueError("face.min_field_mm must be a number of mm")
    limits = out["pose_limit_deg"]
    if not isinstance(limits, Mapping) or set(limits) - {"yaw", "pitch", "roll"}:
        raise ValueError("face.pose_limit_deg must map yaw/pitch/roll to degrees")
    for key, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"face.pose_limit_deg.{key} must be a positive number of degrees")
    if not isinstance(out["red"], Mapping):
        raise ValueError("face.red must be a mapping of keyword options for measure_red_areas")
    return out


#: Defaults of the photo option ``sticker`` (a round calibration sticker of known diameter gives the scale
#: when none is given; see :mod:`pipelines.assays.sticker`). ``diameter_mm`` has no default: naming it
#: turns the sticker search on.
STICKER_DEFAULTS: dict[str, Any] = {"diameter_mm": None, "color": None, "tolerance_mm": 0.0}


def sticker_options(options: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``sticker`` photo option merged over :data:`STICKER_DEFAULTS`, or None when no sticker is
    configured (the option absent or null); ``ValueError`` for bad keys/values."""
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise ValueError("photo option 'sticker' must be a mapping such as {diameter_mm: 10.0}")
    unknown = sorted(set(options) - set(STICKER_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown sticker option(s) {unknown}; known: {sorted(STICKER_DEFAULTS)}")
    out = {**STICKER_DEFAULTS, **options}
    diameter, tolerance = out["diameter_mm"], out["tolerance_mm"]
    if isinstance(diameter, bool) or not isinstance(diameter, (int, float)) or not 0 < diameter < 1000:
        raise ValueError(f"sticker.diameter_mm must be a positive number of mm, got {diameter!r}")
    not_number = isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
    if not_number or not 0 <= tolerance < diameter:
        raise ValueError(f"sticker.tolerance_mm must be in [0, diameter_mm) mm, got {tolerance!r}")
    if out["color"] is not None:
        from texture.sticker import sticker_color_lab

        color = out["color"]
        sticker_color_lab(tuple(color) if isinstance(color, list) else color)  # raises ValueError
    out["diameter_mm"], out["tolerance_mm"] = float(diameter), float(tolerance)
    return out


def photo_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options as a dict; unknown keys raise ``ValueError`` naming the known ones (the config
    loader calls this so that a typo stops the run before any image is analysed)."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(PHOTO_OPTIONS))
    if unknown:
        raise ValueError(f"unknown photo option(s) {unknown}; known: {sorted(PHOTO_OPTIONS)}")
    for name in ("pores", "spots", "wrinkles", "roughness", "face"):
        if not isinstance(options.get(name, {}), Mapping):
            raise ValueError(f"photo option {name!r} must be a mapping of keyword options")
    face_options(options.get("face"))
    sticker_options(options.get("sticker"))
    return options


#: Defaults of every option :func:`pipelines.assays.histology.analyze_histology` understands.
HISTOLOGY_DEFAULTS: dict[str, Any] = {
    "orientation_scale_um": 4.0,
    "orientation_scale_px": 4.0,
    "threshold": None,
    "stain_vectors": None,
    "collagen_index": 0,
    "tissue_od_threshold": 0.1,
    "fibres": True,
    "fibre_min_length_um": 15.0,
    "epidermis": "auto",
    "epidermis_options": None,
    "roi": None,
    "glcm_features": DEFAULT_GLCM_FEATURES,
    "glcm_levels": 32,
    "threshold_method": "half_max",
    "tissue": None,
    "polarized": None,
}

#: Options of :func:`texture.tissue.detect_tissue` a config may set under ``histology.tissue``.
TISSUE_OPTIONS = (
    "smooth_px",
    "pale_od_threshold",
    "pale_reach_um",
    "max_hole_um",
    "glass_rgb",
    "exclude_pen",
    "pen_residual",
    "fold_od",
    "envelope_px",
    "shg_level",
)
#: Keys of one stain's entry in ``Settings.histology_batch``.
BATCH_KEYS = ("threshold", "stain_vectors", "collagen_index")
#: Options of :func:`texture.polarized.measure_polarized_psr` (``histology.polarized``).
POLARIZED_OPTIONS = ("edge_radius_px", "min_contrast", "min_saturation")


def histology_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults updated with ``options``; unknown keys raise ``ValueError`` naming the known ones."""
    opts = dict(HISTOLOGY_DEFAULTS)
    if options:
        unknown = sorted(set(options) - set(HISTOLOGY_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown histology option(s) {unknown}; known: {sorted(HISTOLOGY_DEFAULTS)}")
        opts.update(options)
    if opts["epidermis"] not in ("auto", True, False):
        raise ValueError(f"option 'epidermis' must be 'auto', true or false, got {opts['epidermis']!r}")
    if opts["threshold_method"] not in ("half_max", "otsu"):
        raise ValueError(
            f"option 'threshold_method' must be 'half_max' or 'otsu', got {opts['threshold_method']!r}"
        )
    for name, known in (("tissue", TISSUE_OPTIONS), ("polarized", POLARIZED_OPTIONS)):
        value = opts[name]
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ValueError(f"option {name!r} must be a mapping of keyword options")
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown {name} option(s) {unknown}; known: {sorted(known)}")
    if isinstance(opts["threshold"], str) and opts["threshold"] != "batch":
        raise ValueError(f"option 'threshold' must be a number, 'batch' or empty, got {opts['threshold']!r}")
    if isinstance(opts["stain_vectors"], str) and opts["stain_vectors"] != "estimate":
        raise ValueError(
            "option 'stain_vectors' must be 2 or 3 RGB OD vectors, 'estimate' or empty, "
            f"got {opts['stain_vectors']!r}"
        )
    return opts


def with_batch(options: Mapping[str, Any], batch: Mapping[str, Any] | None) -> dict[str, Any]:
    """Histology options with the study-wide values of one stain filled in.

    ``threshold: batch`` becomes the batch threshold and ``stain_vectors: estimate`` the batch's
    estimated vectors with their ``collagen_index`` (each left to the per-image rule when the batch has
    none, e.g. for whole slides, which the batch pass does not read). Batch values are used only when
    the options ask for them.
    """
    opts = dict(options)
    batch = dict(batch or {})
    if opts.get("threshold") == "batch":
        opts["threshold"] = batch.get("threshold")
    if opts.get("stain_vectors") == "estimate":
        opts["stain_vectors"] = batch.get("stain_vectors")
        if "collagen_index" in batch:
            opts["collagen_index"] = batch["collagen_index"]
    return opts


def collagen_kwargs(opts: Mapping[str, Any], *, stain: str) -> dict[str, Any]:
    """Keyword arguments of :func:`texture.collagen.analyze_collagen` from pipeline options."""
    # 'batch' / 'estimate' not yet resolved (with_batch): the per-image rule.
    threshold = None if opts["threshold"] in (None, "batch") else float(opts["threshold"])
    vectors = None if opts["stain_vectors"] in (None, "estimate") else opts["stain_vectors"]
    return {
        "stain": "custom" if vectors is not None else stain,
        "orientation_scale_um": float(opts["orientation_scale_um"]),
        "orientation_scale_px": float(opts["orientation_scale_px"]),
        "threshold": threshold,
        "vectors": vectors,
        "collagen_index": int(opts["collagen_index"]),
        "tissue_od_threshold": float(opts["tissue_od_threshold"]),
        "fibres": bool(opts["fibres"]),
        "fibre_min_length_um": float(opts["fibre_min_length_um"]),
        "threshold_method": str(opts["threshold_method"]),
        "tissue_options": dict(opts["tissue"] or {}),
    }
