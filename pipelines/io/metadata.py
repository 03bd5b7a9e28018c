"""Who, when and what each image is: subject, session, date, modality, stain, scale.

Metadata comes from ``manifest.csv`` when there is one (in the input folder, or given explicitly), and
otherwise from the file name through a regular expression with named groups. Every problem is reported
with the file, row and column at fault, before any image is analysed.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipelines.io.decode import find_images
from pipelines.io.scale import scale_problem
from texture.measurement import check_scale

__all__ = [
    "DEFAULT_PATTERN",
    "MODALITIES",
    "STAINS",
    "ImageItem",
    "MetadataError",
    "collect_items",
    "manifest_for",
    "parse_filename",
    "read_manifest",
]

#: Default file-name pattern, matched against the file name without its suffix, for example
#: ``P01_s0_cheek`` (photo of subject P01, baseline, left cheek) or ``P01_s6_biopsy_psr``
#: (picrosirius-red histology of subject P01 at session 6). Groups: ``subject`` (letters, digits, ``-``),
#: ``session`` (integer after ``s``, ``session`` or ``visit``), optional ``region`` and optional ``stain``.
#: A file with a stain is histology, otherwise a photo.
DEFAULT_PATTERN = (
    r"^(?P<subject>[A-Za-z0-9-]+)_(?:s|session|visit)(?P<session>\d+)"
    r"(?:_(?P<region>[A-Za-z0-9-]+?))?(?:_(?P<stain>psr_polarized|psr|masson_green|masson|he|shg|vvg|elastin))?$"
)
MODALITIES = ("photo", "histology")
#: Stains a histology image may carry: brightfield presets of :mod:`texture.stains` (``he`` is reported
#: as ``eosin_*``, ``vvg``/``elastin`` as ``elastin_*``), ``shg``, and ``psr_polarized`` (picrosirius red
#: under polarised light, :mod:`texture.polarized`).
STAINS = ("psr", "masson", "masson_green", "he", "shg", "psr_polarized", "vvg", "elastin")
MANIFEST_COLUMNS = (
    "file",
    "subject",
    "session",
    "date",
    "modality",
    "region",
    "stain",
    "px_per_mm",
    "treatment",
    "roi",
)


class MetadataError(ValueError):
    """A manifest, pattern or config problem; the message names the file, row and column."""


#: Largest session number accepted: sessions are visit numbers or days (a 30-year follow-up in days is
#: ~11000); anything larger is a typo or an overflow waiting to happen.
MAX_SESSION = 1_000_000
#: Date formats a manifest (or a file-name ``date`` group) may use, tried in this order. Day-first for the
#: slashed and dotted forms (the European convention; US month-first dates are not accepted, because
#: 03/04/2024 would be read wrong without a word).
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y%m%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
)
#: Longest text shown from a user's value in a message.
MAX_SHOWN = 80


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error message stays a line whatever the input."""
    text = repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class ImageItem:
    """One image to analyse and what is known about it before decoding."""

    path: Path
    file: str  # path relative to the input folder, POSIX separators: the identity used in outputs
    subject: str
    session: int
    modality: str = "photo"
    region: str = ""
    stain: str = ""
    date: str = ""  # ISO 8601 date or date-time; empty when unknown (EXIF may fill it at load)
    px_per_mm: float | None = None
    treatment: str = ""
    roi: str = ""  # polygon "x1 y1, x2 y2, ..." in pixels or a mask file relative to the input folder
    notes: list[str] = field(default_factory=list)
    # True when nothing said which modality this is (no manifest, no stain in the file name): the image
    # itself then decides (pipelines.analyze: a microscope scale or a stain colour signature, no skin).
    modality_inferred: bool = False


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _parse_session(text: str, where: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise MetadataError(f"{where}: session {shown(text)} is not a whole number") from None
    if not value.is_integer() or not 0 <= value <= MAX_SESSION:
        raise MetadataError(
            f"{where}: session {shown(text)} must be a whole number >= 0 and <= {MAX_SESSION:,}"
        )
    return int(value)


def _parse_scale(text: str, where: str) -> float | None:
    if text == "":
        return None
    number = text
    if re.fullmatch(r"[+-]?\d+,\d+", text):  # a decimal comma (a European spreadsheet): 12,5 = 12.5
        number = text.replace(",", ".")
    try:
        value = float(number)
    except ValueError:
        raise MetadataError(f"{where}: px_per_mm {shown(text)} is not a number") from None
    try:
        return check_scale(value)
    except ValueError:
        raise MetadataError(f"{where}: px_per_mm must be a positive number, got {shown(text)}") from None


def _parse_date(text: str, where: str) -> str:
    if text == "":
        return ""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    raise MetadataError(
        f"{where}: date {shown(text)} is not a date skintex reads; use YYYY-MM-DD "
        "(also accepted: DD.MM.YYYY, DD/MM/YYYY, YYYYMMDD, YYYY/MM/DD, each with an optional HH:MM[:SS])"
    )


def _modality_and_stain(modality: str, stain: str, where: str) -> tuple[str, str]:
    modality, stain = modality.strip().lower(), stain.strip().lower()
    if not modality:
        modality = "histology" if stain else "photo"
    if modality not in MODALITIES:
        raise MetadataError(f"{where}: modality {modality!r} is not one of {', '.join(MODALITIES)}")
    if modality == "histology" and not stain:
        raise MetadataError(f"{where}: histology needs a stain ({', '.join(STAINS)})")
    if stain and stain not in STAINS:
        raise MetadataError(f"{where}: stain {stain!r} is not one of {', '.join(STAINS)}")
    return modality, stain


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tab is allowed
# What pipelines.analyze reads as an ROI polygon ("x1 y1, x2 y2, ..."); anything else is a mask file.
_POLYGON_CHARACTERS = re.compile(r"^[\d\s.,;+-]+$")


def _check_roi_spec(spec: str, root: Path, where: str) -> str:
    """An ROI mask file must exist inside the input folder (no ``..``, absolute path or symlink out)."""
    if not spec or _POLYGON_CHARACTERS.match(spec):
        return spec
    rel = Path(spec)
    if rel.is_absolute() or ".." in rel.parts or not _inside(root / rel, root):
        raise MetadataError(f"{where}: ROI mask {spec!r} lies outside the input folder")
    if not (root / rel).is_file():
        raise MetadataError(f"{where}: ROI mask {spec!r} does not exist")
    return spec


#: A manifest is text, one line per image: anything larger is not one (or a mistake).
MAX_MANIFEST_BYTES = 64 * 2**20


def _column_name(header: str) -> str:
    """A manifest header as its column name: case, surrounding spaces, inner spaces and hyphens ignored."""
    return re.sub(r"[\s-]+", "_", header.strip().lower())


def _sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab, from the header line: a European spreadsheet saves ``file;subject``."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be an image to read, worded as an input problem (None when it is a file)."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:  # too long a name, permission denied, a loop of links
        return f"cannot be opened ({exc.strerror or type(exc).__name__})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not an image file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not an image file: copy the image into the folder"
    return "is not a regular file (a device or socket)"


def read_manifest(manifest: str | Path, input_dir: str | Path | None = None) -> list[ImageItem]:
    """Read and validate a manifest; ``file`` paths are relative to the manifest's folder.

    Raises :class:`MetadataError` naming the manifest, the row (1 = header) and the column for: a missing
    ``file`` column, an unknown column, a file that does not exist or lies outside the input folder
    (``..``, absolute paths, symlinks leading out), a duplicate file, a non-numeric session or scale,
    an unknown modality or stain, an unparseable date.
    """
    manifest = Path(manifest)
    base = manifest.parent
    root = Path(input_dir) if input_dir is not None else base
    label = manifest.name  # the name only: a path can carry a user's or a patient's name
    if not manifest.is_file():
        what = "does not exist" if not manifest.exists() else "is not a regular file"
        raise MetadataError(f"manifest {label!r} {what}")
    if manifest.stat().st_size > MAX_MANIFEST_BYTES:
        raise MetadataError(
            f"{label}: larger than {MAX_MANIFEST_BYTES // 2**20} MiB: is it really a manifest?"
        )
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise MetadataError(
            f"{label}: not UTF-8 text; save it as 'CSV UTF-8' from the spreadsheet (Excel: File > Save As)"
        ) from None
    except OSError as exc:
        raise MetadataError(f"{label}: cannot read manifest ({exc.strerror or type(exc).__name__})") from None
    delimiter = _sniff_delimiter(text)
    # StringIO, not splitlines(): a quoted cell may hold a line break, and splitlines() also breaks
    # at \x0b, \x1c or U+2028, which would cut a row in two.
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    raw_header = list(reader.fieldnames or [])
    # "File", " Px per mm", "PX-PER-MM" are the columns file and px_per_mm.
    header = [_column_name(h) for h in raw_header]
    reader.fieldnames = header
    if "file" not in header:
        found = ", ".join(shown(h, 30) for h in raw_header[:8]) or "none"
        raise MetadataError(
            f"{label}: row 1: the manifest needs a 'file' column (found: {found}; "
            "columns may be separated by commas, semicolons or tabs)"
        )
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise MetadataError(f"{label}: row 1: column(s) {', '.join(map(repr, repeated))} appear twice")
    unknown = [h for h in header if h not in MANIFEST_COLUMNS]
    if unknown:
        raise MetadataError(
            f"{label}: row 1: unknown column(s) {', '.join(shown(u, 30) for u in unknown[:8])}; "
            f"allowed: {', '.join(MANIFEST_COLUMNS)}"
        )
    items: list[ImageItem] = []
    seen: dict[str, int] = {}
    for rowno, raw in enumerate(reader, start=2):
        where = f"{label}: row {rowno}"
        if None in raw:  # csv puts values beyond the header under the key None
            if all(not (v or "").strip() for v in raw[None]):
                raw.pop(None)  # trailing empty cells (a spreadsheet's "a,b,,"): nothing beyond the header
            else:
                raise MetadataError(f"{where}: more values than the header has columns")
        row = {k: (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue  # an empty row (Excel saves trailing ",,,," rows after the data)
        for column, value in row.items():
            if _CONTROL_CHARACTERS.search(value):
                raise MetadataError(f"{where}, column {column!r}: contains control characters")
        name = row.get("file", "")
        if not name:
            raise MetadataError(f"{where}, column 'file': empty file name")
        rel = Path(name)
        path = base / rel
        if rel.is_absolute() or ".." in rel.parts or not _inside(path, root):
            raise MetadataError(f"{where}, column 'file': {shown(name)} lies outside the input folder")
        problem = _not_a_file(path)
        if problem:
            raise MetadataError(f"{where}, column 'file': {shown(name)} {problem}")
        file_id = path.resolve().relative_to(root.resolve()).as_posix()
        if file_id in seen:
            raise MetadataError(f"{where}, column 'file': {name!r} already listed in row {seen[file_id]}")
        seen[file_id] = rowno
        modality, stain = _modality_and_stain(
            row.get("modality", ""), row.get("stain", ""), f"{where}, column 'modality'/'stain'"
        )
        session_text = row.get("session", "")
        items.append(
            ImageItem(
                path=path,
                file=file_id,
                subject=row.get("subject", "") or rel.stem,
                session=_parse_session(session_text, f"{where}, column 'session'") if session_text else 0,
                modality=modality,
                region=row.get("region", ""),
                stain=stain,
                date=_parse_date(row.get("date", ""), f"{where}, column 'date'"),
                px_per_mm=_parse_scale(row.get("px_per_mm", ""), f"{where}, column 'px_per_mm'"),
                treatment=row.get("treatment", ""),
                roi=_check_roi_spec(row.get("roi", ""), root, f"{where}, column 'roi'"),
            )
        )
    return items


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a file-name pattern, checking it has at least the ``subject`` and ``session`` groups."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise MetadataError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc
    missing = {"subject", "session"} - set(rx.groupindex)
    if missing:
        raise MetadataError(f"pattern {pattern!r} lacks the named group(s) {', '.join(sorted(missing))}")
    return rx


def parse_filename(path: Path, root: Path, rx: re.Pattern[str]) -> ImageItem:
    """Metadata of one file from its name; a name the pattern does not match is its own subject's
    baseline photo (and says so in ``notes``)."""
    file_id = _printable_name(path.relative_to(root).as_posix())
    full_stem = _printable_name(path.stem)
    stem = full_stem[: -len(".ome")] if full_stem.lower().endswith(".ome") else full_stem  # x.ome.tif
    notes = []
    if file_id != path.relative_to(root).as_posix():
        notes.append(f"file name is not valid UTF-8; shown as {file_id!r}")
    match = rx.search(stem)
    if match is None:
        return ImageItem(
            path=path,
            file=file_id,
            subject=full_stem,
            session=0,
            notes=[
                *notes,
                f"file name does not match the pattern; treated as baseline of subject {full_stem!r}",
            ],
            modality_inferred=True,
        )
    groups = {k: (v or "") for k, v in match.groupdict().items()}
    where = f"{file_id}: file name"
    modality, stain = _modality_and_stain(groups.get("modality", ""), groups.get("stain", ""), where)
    return ImageItem(
        path=path,
        file=file_id,
        subject=groups["subject"],
        session=_parse_session(groups["session"], where),
        modality=modality,
        region=groups.get("region", ""),
        stain=stain,
        date=_parse_date(groups.get("date", ""), where),
        notes=notes,
        modality_inferred=not (groups.get("modality") or groups.get("stain")),
    )


def _printable_name(name: str) -> str:
    """A file name as text every output can hold: bytes that are not UTF-8 (a name from a Latin-1 disk,
    which Python keeps as lone surrogates that no UTF-8 writer accepts) become ``\\xNN`` escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def manifest_for(input_dir: str | Path, manifest: str | Path | None = None) -> Path | None:
    """The manifest a run over ``input_dir`` uses: ``manifest`` when given, else ``input_dir/manifest.csv``
    when that exists (and ``input_dir`` is a folder), else None (metadata from file names)."""
    if manifest is not None:
        return Path(manifest)
    root = Path(input_dir)
    if root.is_dir() and (root / "manifest.csv").is_file():
        return root / "manifest.csv"
    return None


def collect_items(
    input_dir: str | Path,
    *,
    manifest: str | Path | None = None,
    pattern: str | None = None,
    px_per_mm: float | None = None,
    force_scale: bool = False,
) -> list[ImageItem]:
    """Every image to analyse with its metadata.

    Uses ``manifest`` if given, else ``input_dir/manifest.csv`` if present, else file names parsed with
    ``pattern`` (default :data:`DEFAULT_PATTERN`). ``px_per_mm`` fills the scale where the manifest has
    none (the file's own metadata is read later, at decode). Every scale must be plausible for its
    image's modality (:func:`pipelines.io.scale.scale_problem`) unless ``force_scale``.
    """
    root = Path(input_dir)
    if not root.exists():
        raise MetadataError(f"input {root.name!r} does not exist")  # the name only, never the folders
    if root.is_file():
        items = [parse_filename(root, root.parent, compile_pattern(pattern or DEFAULT_PATTERN))]
    else:
        manifest = manifest_for(root, manifest)
        if manifest is not None:
            items = read_manifest(manifest, input_dir=root)
        else:
            rx = compile_pattern(pattern or DEFAULT_PATTERN)
            found = find_images(root)
            for p in found:  # a symlink in the folder must not smuggle in a file from elsewhere
                if not _inside(p, root):
                    raise MetadataError(
                        f"{p.relative_to(root).as_posix()!r} is a symlink leading outside the input "
                        "folder; copy the file in or remove the link"
                    )
            items = [parse_filename(p, root, rx) for p in found]
    if not items:
        raise MetadataError(f"no images found in {root.name!r}")
    if px_per_mm is not None:
        for item in items:
            if item.px_per_mm is None:
                item.px_per_mm = float(px_per_mm)
    if not force_scale:
        for item in items:
            # An item whose modality the image decides later may be either (pipelines.io.scale).
            problem = scale_problem(item.px_per_mm, None if item.modality_inferred else item.modality)
            if problem:
                raise MetadataError(f"{item.file}: {problem}")
    return items
