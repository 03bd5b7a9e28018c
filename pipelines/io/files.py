"""The file-system rules every writer follows: atomic writes under skintex's own temporary names,
and the content hash that identifies an input."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["atomic_write", "sweep_temporaries", "sha256_of_file", "write_json"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success flush, fsync and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs are ordinary shared files
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sweep_temporaries(folder: str | Path) -> int:
    """Delete the temporary files that :func:`atomic_write` leaves when its process is killed
    (``.<name>.<random>.tmp``) anywhere below ``folder``; returns how many were removed."""
    removed = 0
    for path in Path(folder).rglob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def sha256_of_file(path: str | Path, *, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so whole slides do not need to fit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return value.as_posix()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON atomically (UTF-8, indented, NaN written as null)."""
    path = Path(path)
    text = json.dumps(_nan_to_none(data), indent=2, default=_json_default, ensure_ascii=False)
    # A folder name that is not UTF-8 reaches Python as lone surrogates: escape them rather than
    # lose run.json (or a cached result) to a UnicodeEncodeError.
    with atomic_write(path, "w", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(text + "\n")
    return path


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value
