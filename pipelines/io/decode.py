"""Decoding image files into upright float RGB arrays, once per image.

Every supported format ends up as float32 sRGB in [0, 1], shape (rows, cols, 3), with EXIF orientation
applied, so the measurement library never sees a file. The pixel count is checked from the file header
before any pixel is decoded, so a decompression bomb is refused without allocating memory.

Colour management: an image with an embedded ICC profile (a phone's Display P3 HEIC, a camera's Adobe RGB
JPEG, a scanner or camera profile) is converted to sRGB on load with LittleCMS (Pillow's ``ImageCms``,
relative colorimetric intent), so the same skin reads the same CIELAB values whichever device profile it
was saved in; the source profile's description is kept (:attr:`LoadedImage.icc_profile`, the QC column
``icc_profile``). A file without a profile is taken as sRGB, the web and camera default (IEC 61966-2-1).
A profile that describes sRGB itself is recorded but not applied (a round trip would only re-quantise).
The transform runs at 8 bits per channel (Pillow's colour management has no 16-bit or float RGB modes),
so a 16-bit or float image with a non-sRGB profile is converted at 8-bit precision (~0.4 L*).

Sample scaling: integer samples are divided by their type's maximum (255, 65535, ...). Float samples have
no type range, so they are read against the smallest conventional range that holds them: 0-1 stays as is,
a float image whose values reach above 2 but not above 255 holds 8-bit values (ImageJ and OpenCV exports)
and is divided by 255, above that up to 65535 by 65535; larger values are refused. Never by the image's own
minimum and maximum, which would stretch every image's contrast differently. Values up to 2 count as a
0-1 image whose processing overshot (clipped to 1); negative values are clipped to 0. (A 0-255 float
image entirely darker than 2/255 would be read as 0-1: such an image holds no skin to measure.)
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "IMAGE_SUFFIXES",
    "DEFAULT_MAX_PIXELS",
    "MIN_SIDE_PX",
    "default_max_pixels",
    "main_page",
    "ImageDecodeError",
    "ImageTooLargeError",
    "LoadedImage",
    "load_image",
    "read_header",
    "find_images",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".heic", ".heif", ".bmp", ".webp")
#: Ceiling of the default refusal limit: 250 megapixels, larger than any camera photo; whole slides go
#: through ``pipelines.assays.slide`` tile by tile instead.
DEFAULT_MAX_PIXELS = 250_000_000
#: Peak memory of analysing one image, per pixel: float32 RGB and Lab copies, masks and filter responses
#: (a 10000 x 10000 PNG peaked at 5.1 GB, 52 B/px), rounded up.
BYTES_PER_PIXEL = 64
#: Smallest side an image may have, in pixels: below it there is no texture to measure (the smallest
#: filters and the 3 x 3 neighbourhoods of the texture matrices need several pixels of context) and
#: OpenCV's own checks fail with raw assertions.
MIN_SIDE_PX = 16


def available_memory_bytes() -> int | None:
    """Memory available to new allocations (Linux ``MemAvailable``, else free physical pages), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def default_max_pixels(workers: int | None = None) -> int:
    """The default ``max_pixels``: what fits in the memory available now when ``workers`` images (default:
    one per core) are analysed at once at :data:`BYTES_PER_PIXEL` each, at most :data:`DEFAULT_MAX_PIXELS`
    and at least 12 megapixels (a camera photo is never refused for memory; a worker that runs out says
    so in its row)."""
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    memory = available_memory_bytes()
    if memory is None:
        return DEFAULT_MAX_PIXELS
    fits = memory // (BYTES_PER_PIXEL * max(1, int(workers)))
    return int(min(DEFAULT_MAX_PIXELS, max(12_000_000, fits)))


_EXIF_IFD = 0x8769
_EXIF_DATETIME_ORIGINAL = 36867
_TIFF_ORIENTATION = 274

try:  # HEIC/HEIF (iPhone photos) decode through Pillow once the plugin is registered.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pillow_heif = None

# Our own header check (read_header) replaces Pillow's bomb guard, which raises only after a warning
# band and knows nothing of the configured limit.
Image.MAX_IMAGE_PIXELS = None


class ImageDecodeError(ValueError):
    """The file is not an image skintex can decode (empty, truncated, wrong format)."""


class ImageTooLargeError(ValueError):
    """The header declares more pixels than the configured limit."""


@dataclass
class LoadedImage:
    """A decoded image and what the file itself says about it.

    Attributes
    ----------
    rgb : ndarray of float32, shape (rows, cols, 3)
        Upright sRGB in [0, 1].
    sha256 : str
        Hex digest of the file's bytes.
    exif_datetime : str or None
        EXIF ``DateTimeOriginal`` as ISO 8601 (``YYYY-MM-DDTHH:MM:SS``), when present.
    px_per_mm : float or None
        Scale from the file's own metadata (OME-TIFF ``PhysicalSizeX``, TIFF resolution in cm), if any.
    source_bit_depth : int
        Bits per channel of the stored samples (8, 16, 32).
    icc_profile : str
        Description of the ICC profile embedded in the file, which ``rgb`` was converted from ("" when the
        file has none and was taken as sRGB; a profile that could not be applied says so in brackets).
    """

    rgb: np.ndarray
    sha256: str
    exif_datetime: str | None = None
    px_per_mm: float | None = None
    source_bit_depth: int = 8
    icc_profile: str = ""

    @property
    def height_px(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width_px(self) -> int:
        return int(self.rgb.shape[1])


def find_images(folder: str | Path) -> list[Path]:
    """All image files below ``folder`` (recursive, by suffix, case-insensitive), sorted by path.

    Hidden files and folders are skipped (``.thumbnails``, ``.Trash``, macOS ``._`` copies), and so is
    any subfolder that is a skintex output folder (it holds a skintex ``run.json``): writing the output
    inside the input folder must not make the next run analyse its own overlay images.
    """
    folder = Path(folder)
    found = []
    # fwalk, not walk: it descends through directory descriptors, so a tree deeper than PATH_MAX is still
    # listed (each such file then fails alone at decode, "File name too long") instead of vanishing
    # silently or stopping the scan. Like rglob, symlinked folders are not entered.
    for dirpath, dirnames, filenames, dirfd in os.fwalk(folder):
        here = Path(dirpath)
        if here != folder and (
            _is_output_folder_at(dirfd)
            or (here.name in _OUTPUT_SUBFOLDERS and _is_output_folder(here.parent))
        ):  # the second test covers -o pointing at the input folder itself
            dirnames.clear()
            continue
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if (
                Path(name).suffix.lower() in IMAGE_SUFFIXES
                and not name.startswith(".")
                and _is_file_at(name, dirfd)
            ):
                found.append(here / name)
    return sorted(found)


def _is_file_at(name: str, dirfd: int) -> bool:
    try:
        return stat.S_ISREG(os.stat(name, dir_fd=dirfd).st_mode)
    except OSError:
        return False


def _is_output_folder_at(dirfd: int) -> bool:
    try:
        fd = os.open("run.json", os.O_RDONLY, dir_fd=dirfd)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as fh:
        try:
            return b'"skintex_version"' in fh.read(1 << 16)
        except OSError:
            return False


_OUTPUT_SUBFOLDERS = ("overlays", "cache")


def _is_output_folder(folder: Path) -> bool:
    run = folder / "run.json"
    try:
        if not run.is_file():
            return False
    except OSError:  # a path too long to stat
        return False
    try:
        with open(run, encoding="utf-8", errors="replace") as fh:
            return '"skintex_version"' in fh.read(1 << 16)
    except OSError:
        return False


def _has_tiff_signature(data: bytes) -> bool:
    return data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def read_header(path: str | Path) -> tuple[int, int]:
    """(width, height) in pixels from the file header, without decoding pixel data."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:  # vanished, unreadable, a cloud placeholder that cannot be fetched
        raise ImageDecodeError(f"cannot read the file: {_without_path(exc)}") from exc
    if not head:
        raise ImageDecodeError("the file is empty (0 bytes): an interrupted copy or sync?")
    for prefix, what in _NOT_IMAGES:
        if head.lstrip().lower().startswith(prefix):
            raise ImageDecodeError(f"the file is {what}, not an image (only its name says image)")
    magic = head[:4]
    if _has_tiff_signature(magic):
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                page = main_page(tif)
                return int(page.imagewidth), int(page.imagelength)
        except Exception as exc:  # tifffile raises many types for corrupt headers
            raise ImageDecodeError(f"unreadable TIFF header: {_without_path(exc)}") from exc
    try:
        with Image.open(path) as im:
            return im.size
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("not a recognised image format (is it really an image?)") from exc
    except OSError as exc:
        raise ImageDecodeError(f"unreadable image header: {_without_path(exc)}") from exc


#: Leading bytes of documents that turn up renamed as images, for a clearer message than "unrecognised".
_NOT_IMAGES = (
    (b"%pdf-", "a PDF document"),
    (b"pk\x03\x04", "a ZIP archive (or a Word/Excel document)"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
)


def _without_path(exc: BaseException) -> str:
    """An exception's message without the file's path: messages reach errors.csv, and an absolute path
    can carry a user's or a patient's name."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return exc.strerror
    return str(exc)


def main_page(tif: Any) -> Any:
    """The page of a TIFF that holds the image: the first one that is not a reduced-resolution copy
    (``NewSubfileType`` bit 0: a thumbnail or pyramid level that some writers put first)."""
    for page in tif.pages:
        if not getattr(page, "is_reduced", False):
            return page
    return tif.pages.first


def _check_pixel_limit(width: int, height: int, max_pixels: int | None) -> None:
    if width < 1 or height < 1:
        raise ImageDecodeError(f"image has no pixels ({width} x {height})")
    if min(width, height) < MIN_SIDE_PX:
        raise ImageDecodeError(
            f"image is {width} x {height} pixels: too small to measure "
            f"(skintex needs at least {MIN_SIDE_PX} pixels on each side)"
        )
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f"{width} x {height} = {width * height:,} pixels exceeds the limit of {max_pixels:,} "
            "(raise max_pixels in the config, or process it as a tiled slide)"
        )


#: Float samples up to this are a 0-1 image (sharpening or resampling overshoot), clipped to 1.
_FLOAT_UNIT_OVERSHOOT = 2.0
_TIFF_ICC_PROFILE = 34675


def _icc_to_srgb(arr: np.ndarray, icc: bytes | None) -> tuple[np.ndarray, str]:
    """Decoded samples converted from their embedded ICC profile to sRGB (module docstring), and the
    profile's description ("" without a profile)."""
    if not icc:
        return arr, ""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(bytes(icc)))
        name = " ".join(ImageCms.getProfileDescription(source).split()) or "unnamed ICC profile"
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return arr, "unreadable ICC profile (not applied: taken as sRGB)"
    if source.profile.xcolor_space.strip() != "RGB":
        return arr, f"{name} (not applied: not an RGB profile)"
    if "srgb" in name.lower():  # already sRGB: a transform would only re-quantise
        return arr, name
    if arr.ndim != 3 or arr.shape[2] < 3:
        return arr, f"{name} (not applied: not an RGB image)"
    rgb = arr[..., :3]
    if rgb.dtype != np.uint8:  # 16-bit or float: no such ImageCms mode, converted at 8-bit precision
        top = float(np.iinfo(rgb.dtype).max) if rgb.dtype.kind in "ui" else 1.0
        rgb = (np.clip(rgb.astype(np.float32) / np.float32(top), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    try:
        converted = ImageCms.profileToProfile(
            Image.fromarray(np.ascontiguousarray(rgb), "RGB"),
            source,
            _srgb_profile(),
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode="RGB",
        )
    except ImageCms.PyCMSError as exc:
        return arr, f"{name} (not applied: {exc})"
    return np.asarray(converted), name


_SRGB_PROFILE = None


def _srgb_profile():
    global _SRGB_PROFILE
    if _SRGB_PROFILE is None:
        from PIL import ImageCms

        _SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB_PROFILE


#: code / 255 in float32 for each 8-bit code (what ``astype(float32) / float32(255)`` gives).
_UNIT_OF_UINT8 = np.arange(256, dtype=np.float32) / np.float32(255.0)


def _to_float_rgb(arr: np.ndarray) -> tuple[np.ndarray, int]:
    """Any decoded sample array (grey, grey+alpha, RGB, RGBA; 8/16/32-bit int or float) to float32 RGB."""
    bits = arr.dtype.itemsize * 8
    in_unit_range = arr.dtype.kind == "u"  # code / max of unsigned samples: nothing to clip
    if arr.dtype == np.uint8 and arr.size and (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] <= 4)):
        import cv2  # lazily: the CLI's start-up imports this module

        # The same float32 quotient per code, by table: ~5x faster than converting and dividing.
        out = cv2.LUT(np.ascontiguousarray(arr), _UNIT_OF_UINT8)
    elif arr.dtype.kind == "u" or arr.dtype.kind == "i":
        out = arr.astype(np.float32)
        np.divide(out, np.float32(np.iinfo(arr.dtype).max), out=out)
    elif arr.dtype.kind == "b":
        out, bits = arr.astype(np.float32), 1
    elif arr.dtype.kind == "f":
        out = arr.astype(np.float32)
        finite = out[np.isfinite(out)]
        # The range a float image was written in (module docstring), never its own min/max.
        top = float(finite.max()) if finite.size else 0.0
        if top > _FLOAT_UNIT_OVERSHOOT:
            for full_scale in (255.0, 65535.0):
                if top <= full_scale:
                    out = out / np.float32(full_scale)
                    break
            else:
                raise ImageDecodeError(
                    f"float samples reach {top:.4g}, above any known range (0-1, 0-255, 0-65535)"
                )
        out = np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=0.0)
    else:
        raise ImageDecodeError(f"unsupported sample type {arr.dtype}")
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    elif out.ndim == 3 and out.shape[2] in (1, 2):  # grey, grey + alpha
        out = np.repeat(out[..., :1], 3, axis=2)
    elif out.ndim == 3 and out.shape[2] >= 3:  # RGB, RGBA: alpha is dropped
        out = out[..., :3]
    else:
        raise ImageDecodeError(f"unsupported image shape {arr.shape}")
    if not in_unit_range:
        out = np.clip(out, 0.0, 1.0)
    return np.ascontiguousarray(out), bits


def _pil_to_array(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.uint16)
    if im.mode == "I":  # 32-bit int: 16-bit PNGs open as "I" in some Pillow versions
        arr = np.asarray(im)
        return arr.astype(np.uint16) if arr.max(initial=0) <= 65535 else arr.astype(np.uint32)
    if im.mode == "F":
        return np.asarray(im, dtype=np.float32)
    if im.mode in ("1", "L", "LA", "RGB", "RGBA"):
        return np.asarray(im)
    # P (palette), CMYK, YCbCr, LAB, HSV...: Pillow's own conversion handles inverted Adobe CMYK JPEGs.
    return np.asarray(im.convert("RGBA" if "transparency" in im.info else "RGB"))


def _exif_datetime(im: Image.Image) -> str | None:
    try:
        value = im.getexif().get_ifd(_EXIF_IFD).get(_EXIF_DATETIME_ORIGINAL)
    except Exception:  # malformed EXIF must not stop a measurement
        return None
    if not isinstance(value, str):
        return None
    value = value.strip().rstrip("\x00")
    # EXIF writes "YYYY:MM:DD HH:MM:SS"; cameras whose clock was never set write zeros or nonsense
    # ("0000:00:00 00:00:00", month 13), which must not become a date that breaks day counts.
    try:
        return datetime.strptime(value[:19], "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


_ORIENT_OPS = {  # TIFF/EXIF orientation -> numpy operations making the image upright
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: np.rot90(a, k=1)[::-1],
    8: lambda a: np.rot90(a, k=1),
}


def _decode_tiff(data: bytes, path: Path) -> tuple[np.ndarray, float | None, bytes | None]:
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            # Only the first page: the one read_header checked against max_pixels. The whole first
            # series could be a stack of thousands of planes (a bomb the header check never sees),
            # and a grey (Z, Y, X) stack would otherwise be read as a Z x Y image with Y "channels".
            page = main_page(tif)  # the page read_header checked: never a thumbnail put first
            arr = page.asarray()
            axes = page.axes
            orientation = page.tags.get(_TIFF_ORIENTATION)
            photometric = page.photometric
            icc_tag = page.tags.get(_TIFF_ICC_PROFILE)
            icc = icc_tag.value if icc_tag is not None else None
    except Exception as exc:
        raise ImageDecodeError(f"cannot decode TIFF: {exc}") from exc
    if arr.ndim == 3 and axes.startswith("S"):  # planar (samples, Y, X), whatever the number of samples
        arr = np.moveaxis(arr, 0, -1)
    while arr.ndim > 3:  # a page holding several planes (rare): the first
        arr = arr[0]
    samples = arr.shape[2] if arr.ndim == 3 else 1
    most = 5 if photometric == tifffile.PHOTOMETRIC.SEPARATED else 4  # CMYK + alpha
    if samples > most:
        raise ImageDecodeError(
            f"the image has {samples} channels per pixel; skintex reads grey, grey + alpha, RGB, RGBA "
            "or CMYK (export a colour image, or one channel, from the acquisition software)"
        )
    if photometric == tifffile.PHOTOMETRIC.SEPARATED and arr.ndim == 3 and arr.shape[2] >= 4:
        cmyk = arr[..., :4].astype(np.float32) / float(np.iinfo(arr.dtype).max)
        arr = (1.0 - cmyk[..., :3]) * (1.0 - cmyk[..., 3:4])
    elif photometric == tifffile.PHOTOMETRIC.MINISWHITE:
        arr = np.iinfo(arr.dtype).max - arr if arr.dtype.kind in "ui" else 1.0 - arr
    if orientation is not None and orientation.value in _ORIENT_OPS:
        arr = _ORIENT_OPS[orientation.value](arr)
    from pipelines.io.slides import read_scale_px_per_mm

    return arr, read_scale_px_per_mm(path), icc


def load_image(path: str | Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode an image file to upright float32 RGB in [0, 1], reading the file once.

    Parameters
    ----------
    path : str or Path
        JPEG, PNG, TIFF (8/16/32-bit, grey, RGB, RGBA, CMYK, OME), HEIC/HEIF, BMP or WebP.
    max_pixels : int or None
        Refuse images whose header declares more pixels (checked before decoding).

    Raises
    ------
    ImageDecodeError
        Empty, truncated or unrecognised files.
    ImageTooLargeError
        The header declares more than ``max_pixels`` pixels.
    """
    path = Path(path)
    width, height = read_header(path)
    _check_pixel_limit(width, height, max_pixels)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageDecodeError(f"cannot read the file: {_without_path(exc)}") from exc
    if not data:
        raise ImageDecodeError("file is empty")
    sha = hashlib.sha256(data).hexdigest()
    if _has_tiff_signature(data):
        arr, scale, icc = _decode_tiff(data, path)
        bits = arr.dtype.itemsize * 8
        arr, profile = _icc_to_srgb(arr, icc)
        rgb, _ = _to_float_rgb(arr)
        return LoadedImage(rgb=rgb, sha256=sha, px_per_mm=scale, source_bit_depth=bits, icc_profile=profile)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on some EXIF quirks; not the user's business
            with Image.open(io.BytesIO(data)) as im:
                when = _exif_datetime(im)
                im.load()  # raises on truncated data instead of returning grey padding
                icc = im.info.get("icc_profile")
                # In place: without an orientation to apply, a copy of the whole image (~30 ms at 12 MP).
                ImageOps.exif_transpose(im, in_place=True)
                arr = _pil_to_array(im)
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("not a recognised image format (is it really an image?)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"cannot decode image: {exc}") from exc
    bits = 1 if arr.dtype.kind == "b" else arr.dtype.itemsize * 8
    arr, profile = _icc_to_srgb(arr, icc)
    rgb, _ = _to_float_rgb(arr)
    return LoadedImage(rgb=rgb, sha256=sha, exif_datetime=when, source_bit_depth=bits, icc_profile=profile)
