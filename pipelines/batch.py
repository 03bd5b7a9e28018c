"""Running many images: executors, the per-image result cache, error capture, progress.

One task is one image. Whatever the backend (``serial``, ``processes``, ``dask``), a task runs the same
function, :func:`run_task`, which never raises: it returns either an :class:`~pipelines.analyze.Outcome` or
an error row. Results stream back as they finish, so the parent holds records, never images.

The cache keeps each finished image's outcome as ``OUT/cache/<key>.json``, written atomically. The key
hashes the file's bytes, its metadata, the reference image's bytes (for aligned follow-ups), the settings
that change numbers and the skintex version, so re-running after a crash (even SIGKILL) analyses only what
is missing, and a changed setting or version analyses again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from pipelines.analyze import AnalysisError, Outcome, Reference, analyze_item
from pipelines.config import Settings
from pipelines.io.files import write_json
from pipelines.io.metadata import ImageItem

__all__ = ["Task", "TaskError", "run_task", "run_tasks", "resolve_backend", "ResultCache", "skintex_version"]


def skintex_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("skintex")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


@dataclass
class Task:
    """One image to analyse, with its baseline reference (follow-up photos) and where outputs go."""

    item: ImageItem
    reference: Reference | None = None
    out_dir: Path | None = None
    input_root: Path | None = None
    file_sha256: str = ""
    reference_sha256: str = ""
    roi_sha256: str = ""  # bytes of an ROI mask file: a mask edited under the same name is analysed again


@dataclass
class TaskError:
    """An ``errors.csv`` row."""

    file: str
    stage: str
    error_type: str
    message: str


class _TimeLimitExceeded(BaseException):
    """Raised by the alarm; a BaseException so that the analysis code's ``except Exception`` handlers,
    which turn failures into stage-tagged errors, let it through to :func:`run_task`."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the task after ``seconds`` with SIGALRM; only possible in a process's main thread
    (serial and process-pool backends). Elsewhere the limit is not enforced."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise _TimeLimitExceeded(f"exceeded the per-image time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_task(task: Task, settings: Settings) -> Outcome | TaskError:
    """Analyse one image; never raises (a failure becomes a :class:`TaskError`)."""
    try:
        with _time_limit(settings.time_limit_s):
            return analyze_item(
                task.item,
                settings,
                out_dir=task.out_dir,
                input_root=task.input_root,
                reference=task.reference,
            )
    except AnalysisError as exc:
        return TaskError(task.item.file, exc.stage, exc.error_type, exc.message)
    except _TimeLimitExceeded as exc:
        return TaskError(task.item.file, "measure", "TimeoutError", str(exc))
    except MemoryError:
        return TaskError(task.item.file, "measure", "MemoryError", "out of memory")
    except Exception as exc:  # a bug must not stop the batch; the row says what happened
        return TaskError(task.item.file, "internal", type(exc).__name__, str(exc))


class ResultCache:
    """Per-image outcomes in ``folder`` as JSON, keyed by content, metadata, settings and version."""

    def __init__(self, folder: Path, settings: Settings):
        self.folder = Path(folder)
        self.settings_key = settings.analysis_key()
        self.version = skintex_version()

    def key(self, task: Task) -> str:
        item = dataclasses.asdict(task.item)
        item.pop("path")
        blob = json.dumps(
            [task.file_sha256, task.reference_sha256, task.roi_sha256, item, self.settings_key, self.version],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, task: Task) -> Path:
        return self.folder / f"{self.key(task)}.json"

    def get(self, task: Task) -> Outcome | None:
        if not task.file_sha256:
            return None
        path = self._path(task)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return None  # absent, unreadable or a torn file from a killed run: analyse again
        if not _valid_record(data):
            return None  # replaced by hand ({}, null, another shape): analyse again rather than crash
        record = {k: (float("nan") if v is None else v) for k, v in data["record"].items()}
        extra = [
            {k: (float("nan") if v is None else v) for k, v in row.items()}
            for row in data.get("extra_records", [])
        ]
        return Outcome(
            record=record, tables=data["tables"], warnings=data["warnings"], seconds=0.0, extra_records=extra
        )

    def put(self, task: Task, outcome: Outcome) -> None:
        if not task.file_sha256:  # unhashable when the run started: never trust it from the cache
            return
        write_json(dataclasses.asdict(outcome), self._path(task))


def _valid_record(data: object) -> bool:
    """The shape :meth:`ResultCache.put` writes: a record with an image's identity, tables of rows,
    warnings as text (and optional extra records)."""
    if not isinstance(data, dict):
        return False
    record, tables, warnings = data.get("record"), data.get("tables"), data.get("warnings")
    if not isinstance(record, dict) or not {"file", "sha256", "subject", "session"} <= set(record):
        return False
    if not isinstance(tables, dict) or not all(
        isinstance(rows, list) and all(isinstance(r, dict) for r in rows) for rows in tables.values()
    ):
        return False
    extra = data.get("extra_records", [])
    if not isinstance(extra, list) or not all(isinstance(r, dict) for r in extra):
        return False
    return isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)


def resolve_backend(settings: Settings) -> tuple[str, int]:
    """The backend and worker count to use: ``auto`` is ``processes`` when more than one core is
    available, else ``serial``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = settings.workers or cores
    backend = settings.backend
    if backend == "auto":
        backend = "processes" if cores > 1 and workers > 1 else "serial"
    return backend, workers


TaskFunction = Callable[[Task, Settings], "Outcome | TaskError"]


def _serial(
    tasks: list[Task], settings: Settings, fn: TaskFunction
) -> Iterator[tuple[Task, Outcome | TaskError]]:
    for task in tasks:
        yield task, fn(task, settings)


def _process_context(tasks: list[Task]) -> multiprocessing.context.BaseContext:
    # forkserver: workers start from a clean server process that already imported the analysis code,
    # so each worker starts fast without inheriting the parent's threads (fork + OpenCV threads can hang).
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        preload = ["pipelines.analyze", "pipelines.assays.photo", "pipelines.assays.alignment"]
        if any(t.item.modality == "histology" for t in tasks):
            preload += ["pipelines.assays.histology"]
        ctx.set_forkserver_preload(preload)
        return ctx
    return multiprocessing.get_context("spawn")


def _worker_init() -> None:
    # One image per worker process; let each use one core rather than oversubscribing.
    import cv2

    cv2.setNumThreads(1)
    # Ctrl-C reaches the whole process group: the parent stops the workers itself (_stop_pool), so a
    # worker must not die mid-image with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once (interrupt, SIGTERM, the consumer gone): cancel what has not started and
    terminate the workers, instead of waiting for their images to finish."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    queue = getattr(pool, "_call_queue", None)
    if queue is not None:  # tasks still buffered for dead workers: do not wait (~1 s) to flush them at exit
        with contextlib.suppress(Exception):
            queue.cancel_join_thread()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=1.0)


def _crashed(task: Task, exc: BaseException) -> TaskError:
    return TaskError(
        task.item.file,
        "worker",
        "WorkerCrashed",
        f"the worker process died while analysing this image ({type(exc).__name__}: {exc})",
    )


def _processes(
    tasks: list[Task], settings: Settings, workers: int, fn: TaskFunction
) -> Iterator[tuple[Task, Outcome | TaskError]]:
    ctx = _process_context(tasks)
    pending = list(tasks)
    suspects: list[Task] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
        try:
            futures = {pool.submit(fn, t, settings): t for t in pending}
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = futures.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        suspects.append(task)
                        # The pool is dead: every unfinished task is a suspect, re-run below in isolation.
                        suspects.extend(futures.values())
                        futures.clear()
                        break
                    yield task, result
        except BaseException:  # Ctrl-C, SIGTERM, or the consumer stopped: no waiting for running images
            _stop_pool(pool)
            raise
    # A crashed worker takes the whole pool down; re-run each unfinished image alone so that only the
    # image that really crashes gets the error row.
    for task in suspects:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_worker_init) as solo:
            try:
                result = solo.submit(fn, task, settings).result()
            except BrokenProcessPool as exc:
                result = _crashed(task, exc)
            except BaseException:
                _stop_pool(solo)
                raise
            yield task, result


def _dask(
    tasks: list[Task], settings: Settings, workers: int, scheduler: str | None, fn: TaskFunction
) -> Iterator[tuple[Task, Outcome | TaskError]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise RuntimeError("the dask backend needs the extra: pip install 'skintex[dask]'") from exc
    with contextlib.ExitStack() as stack:
        if scheduler:
            client = stack.enter_context(Client(scheduler))
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=40,
                )
            )
            client = stack.enter_context(Client(cluster))
        client.run(_worker_init)
        futures = {client.submit(fn, t, settings, pure=False): t for t in tasks}
        for fut in as_completed(list(futures)):
            task = futures.pop(fut)
            try:
                yield task, fut.result()
            except Exception as exc:  # KilledWorker and friends: the worker died on this image
                yield task, _crashed(task, exc)
            fut.release()


def run_tasks(
    tasks: Iterable[Task],
    settings: Settings,
    *,
    cache: ResultCache | None = None,
    on_result: Callable[[Task, Outcome | TaskError, bool], None] | None = None,
    task_function: TaskFunction = run_task,
    on_backend: Callable[[str, int], None] | None = None,
) -> Iterator[tuple[Task, Outcome | TaskError]]:
    """Run tasks on the configured backend, serving cached outcomes first; yields as they finish.

    ``on_result(task, result, from_cache)`` is called for each, e.g. to advance a progress bar.
    ``task_function`` must be importable by worker processes (a module-level function); it exists so
    tests can stand in a worker that crashes. ``on_backend(backend, workers)`` is told what ran the
    images that were not cached: a process pool costs seconds to start, so it is used only when there
    is more than one image per worker (otherwise the images run here, serially).
    """
    todo: list[Task] = []
    for task in tasks:
        cached = cache.get(task) if cache is not None else None
        if cached is not None:
            if on_result:
                on_result(task, cached, True)
            yield task, cached
        else:
            todo.append(task)
    if not todo:
        return
    backend, workers = resolve_backend(settings)
    workers = min(workers, len(todo))
    if backend == "processes" and len(todo) <= workers:
        backend, workers = "serial", 1
    if backend == "serial":
        workers = 1
    if on_backend:
        on_backend(backend, workers)
    if backend == "serial":
        stream = _serial(todo, settings, task_function)
    elif backend == "processes":
        stream = _processes(todo, settings, workers, task_function)
    else:
        stream = _dask(todo, settings, workers, settings.scheduler, task_function)
    for task, result in stream:
        if cache is not None and isinstance(result, Outcome):
            cache.put(task, result)
        if on_result:
            on_result(task, result, False)
        yield task, result


class Progress:
    """A progress bar on a terminal, plain lines otherwise (logs, CI)."""

    def __init__(self, total: int, *, enabled: bool = True, stream=None):
        self.total, self.done, self.failed, self.cached = total, 0, 0, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self._bar = None
        self._last_line = 0.0
        if self.enabled and self.stream.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("analysing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("images", total=total)

    def update(self, task: Task, result: Outcome | TaskError, from_cache: bool) -> None:
        self.done += 1
        self.failed += isinstance(result, TaskError)
        self.cached += from_cache
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
            return
        now = time.monotonic()
        if self.done == self.total or now - self._last_line >= 2.0 or self.done == 1:
            self._last_line = now
            print(
                f"analysed {self.done}/{self.total} images ({self.failed} failed, {self.cached} cached)",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
