"""The file-system rules every writer follows: atomic writes under skintex's own temporary names, one
run per output folder at a time, and the content hash that identifies an input.

Temporary files are named ``.skintex-<target name>.<random>.tmp``: only names of that form are ever swept,
and only in the folders skintex writes (the output folder, its ``overlays/`` and ``cache/``), so a user's
own ``.IMG_0001.CR2.tmp`` beside the images is never touched. A run holds ``OUT/.skintex.lock`` (an
advisory ``flock``, released by the kernel when the process ends, even on SIGKILL) from its first write to
its last, and sweeps only while holding it, so it can never delete the temporary file of a run that is
still writing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "TEMP_PREFIX",
    "LOCK_NAME",
    "OutputLockedError",
    "atomic_write",
    "is_temporary",
    "output_lock",
    "sweep_temporaries",
    "sha256_of_file",
    "write_json",
]

#: Every temporary file skintex creates starts with this; nothing else is ever swept.
TEMP_PREFIX = ".skintex-"
#: The lock file a run holds in its output folder.
LOCK_NAME = ".skintex.lock"
_TEMP_NAME = re.compile(r"^\.skintex-.+\.[A-Za-z0-9_]{6,}\.tmp$")


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=".tmp")
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


def is_temporary(name: str) -> bool:
    """True for a name :func:`atomic_write` creates (``.skintex-<name>.<random>.tmp``) and for no other."""
    return bool(_TEMP_NAME.match(name))


#: The folders of an output folder that skintex writes into (besides the folder itself).
_OWN_SUBFOLDERS = ("overlays", "cache")


def sweep_temporaries(folder: str | Path) -> int:
    """Delete the temporary files that :func:`atomic_write` leaves when its process is killed, in the
    output folder ``folder`` and its ``overlays/`` and ``cache/`` trees; returns how many were removed.

    Only skintex's own names (:func:`is_temporary`) are removed, and the input folder's other subfolders
    are never visited (``-o`` may be the input folder). Call it only while holding :func:`output_lock`.
    """
    folder = Path(folder)
    candidates: list[Path] = []
    with contextlib.suppress(OSError):
        candidates += [p for p in folder.iterdir() if is_temporary(p.name)]
    for sub in _OWN_SUBFOLDERS:
        if (folder / sub).is_dir() and not (folder / sub).is_symlink():
            candidates += [p for p in (folder / sub).rglob(f"{TEMP_PREFIX}*.tmp") if is_temporary(p.name)]
    removed = 0
    for path in candidates:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed += 1
    return removed


class OutputLockedError(RuntimeError):
    """Another skintex run is writing to the same output folder."""


@contextlib.contextmanager
def output_lock(folder: str | Path) -> Iterator[None]:
    """Hold ``folder/.skintex.lock`` for the duration; a second run into the same folder gets
    :class:`OutputLockedError` at once instead of interleaving its files with the first run's.

    The lock is an advisory ``fcntl.flock`` on POSIX (the kernel releases it when the holder dies) and
    ``msvcrt.locking`` on Windows.
    """
    folder = Path(folder)
    lock_path = folder / LOCK_NAME
    fh = open(lock_path, "a+")  # noqa: SIM115 - held open for the whole run
    try:
        try:
            _lock(fh)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise OutputLockedError(
                    "another skintex run is writing to this output folder; wait for it to finish, "
                    "or choose another output folder"
                ) from None
            raise
        try:
            yield
        finally:
            _unlock(fh)
    finally:
        fh.close()


def _lock(fh: IO[Any]) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock(fh: IO[Any]) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        fh.seek(0)
        with contextlib.suppress(OSError):
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


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
