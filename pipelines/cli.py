"""The ``skintex`` command: ``analyze``, ``report``, ``demo``.

Exit status: 0 when every image was analysed, 2 when the run finished but some images are in
``errors.csv``, 1 for a usage or configuration error (nothing written; click's own usage errors, such as
a missing ``-o``, included), 130 when interrupted (Ctrl-C) and 143 when terminated (SIGTERM): re-running
the same command then resumes from the per-image cache.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click as typer._click; its usage errors are that copy's class
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - an older typer on the real click
    from click.exceptions import UsageError

# Nothing heavy at import time (numpy, OpenCV, pandas, the analysis): `skintex --help` must start fast;
# each command imports what it runs (tests/pipelines/test_cli_imports.py checks this).

#: Shown by ``skintex --help`` and in the README.
EXIT_CODES = (
    "Exit status: 0 every image analysed; 2 the run finished but some images failed (rows in errors.csv); "
    "1 usage, configuration or output-folder error (nothing written); 130 interrupted (Ctrl-C) and "
    "143 terminated: re-run the same command to resume."
)
MANIFEST_HELP = (
    "manifest.csv columns: file (required, relative to the manifest), subject, session (whole number, "
    "0 = baseline), date (YYYY-MM-DD, DD.MM.YYYY, DD/MM/YYYY, YYYYMMDD, with an optional time), "
    "modality (photo, histology), region, stain (psr, masson, masson_green, he, shg, psr_polarized, vvg, "
    "elastin), px_per_mm, treatment, roi (polygon 'x1 y1, x2 y2, ...' or a mask image). Headers are "
    "matched ignoring case and spaces; comma, semicolon or tab separated; decimal commas are accepted in "
    "px_per_mm."
)
INTERRUPTED = "interrupted — re-run the same command to resume"


class _Group(TyperGroup):
    """Click's usage errors (a missing option, an unknown command) exit 1 like every other usage error,
    as documented; click's own default is 2, which skintex uses for "some images failed"."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            exc.exit_code = 1
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            exc.exit_code = 1
            raise


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    help="Validated skin measurements from clinical photos and histology.\n\n" + EXIT_CODES,
)
console = Console(stderr=True)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that worker processes are stopped on the way out."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def _version(value: bool) -> None:
    if value:
        from pipelines.batch import skintex_version

        typer.echo(f"skintex {skintex_version()}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Validated skin measurements from clinical photos and histology."""


DEFAULT_DEMO_OUT = Path("skintex-demo")


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code=1)


#: Warnings printed before the summary line; the rest are counted (errors.csv has all).
MAX_WARNINGS_SHOWN = 10


def _summarise(result, out: Path) -> None:
    info = result.run_info["counts"]
    from rich.markup import escape

    warned = int(info.get("warnings", 0))
    errors = result.errors
    if warned and not errors.empty:
        # The first few warnings on the console (all of them are in errors.csv).
        shown = errors[errors["stage"] == "warning"].head(MAX_WARNINGS_SHOWN)
        for row in shown.itertuples():
            # escape: a file name or message may hold [brackets] that rich would read as markup
            console.print(
                f"[yellow]warning[/] {escape(str(row.file))}: {escape(str(row.message))}", highlight=False
            )
        if warned > len(shown):
            console.print(f"... and {warned - len(shown)} more warnings", highlight=False)
    plural = "" if warned == 1 else "s"
    used = result.run_info.get("backend_used")
    where = ""
    if used:
        where = f" on {used['backend']} ({used['workers']} worker{'' if used['workers'] == 1 else 's'})"
    console.print(
        f"analysed {info['analysed']} of {info['images']} images{where} ({info['failed']} failed, "
        f"{warned} warning{plural}, {info['cached']} from cache)"
        + (": see errors.csv" if warned or info["failed"] else ""),
        highlight=False,
    )
    for name in ("metrics.csv", "changes.csv", "cohort.csv", "errors.csv", "run.json", "report.html"):
        if (out / name).exists():
            console.print(f"  {out / name}", highlight=False, markup=False)


@app.command(
    epilog=f"Example: skintex analyze photos/ -o results/ --px-per-mm 20\n\n{MANIFEST_HELP}\n\n{EXIT_CODES}"
)
def analyze(
    input: Annotated[Path, typer.Argument(help="Folder of images (recursive) or one image file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    manifest: Annotated[Path | None, typer.Option(help="manifest.csv (default: INPUT/manifest.csv).")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML config file.")] = None,
    pattern: Annotated[str | None, typer.Option(help="File-name regex with named groups.")] = None,
    px_per_mm: Annotated[float | None, typer.Option("--px-per-mm", help="Scale where none is known.")] = None,
    workers: Annotated[int | None, typer.Option(help="Parallel workers (default: all cores).")] = None,
    backend: Annotated[str | None, typer.Option(help="serial, processes or dask.")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ignore and do not keep cached results.")
    ] = False,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not build report.html.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Write into an output folder that holds files skintex did not write."),
    ] = False,
    force_scale: Annotated[
        bool,
        typer.Option(
            "--force-scale", help="Accept scales outside the plausible range (photo 1-200 px/mm, ...)."
        ),
    ] = False,
) -> None:
    """Analyse a folder of photos and histology into tables (and a report)."""
    result = _analyze_folder(
        input,
        out_dir=out,
        manifest=manifest,
        config=config,
        progress=True,
        force=force,
        pattern=pattern,
        px_per_mm=px_per_mm,
        workers=workers,
        backend=backend,
        scheduler=scheduler,
        cache=False if no_cache else None,
        force_scale=True if force_scale else None,
    )
    if not no_report:
        _build_report(out)
    _summarise(result, out)
    raise typer.Exit(code=result.exit_status)


def _analyze_folder(*args: Any, **kwargs: Any) -> Any:
    """``analyze_folder`` with every way it can stop turned into a message and an exit status: usage,
    configuration and output-folder errors (1), Ctrl-C (130), SIGTERM (143; workers terminated)."""
    from pipelines.io.files import OutputLockedError
    from pipelines.io.metadata import MetadataError
    from pipelines.outputs.folder import OutputFolderError
    from pipelines.run import analyze_folder

    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return analyze_folder(*args, **kwargs)
    except (MetadataError, OutputFolderError, OutputLockedError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        console.print(f"[bold yellow]{INTERRUPTED}[/]", highlight=False)
        raise typer.Exit(code=130) from None
    except Terminated:
        console.print("[bold yellow]terminated — re-run the same command to resume[/]", highlight=False)
        raise typer.Exit(code=143) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _build_report(out: Path) -> None:
    from pipelines.outputs.report import build_report

    try:
        build_report(out)
    except Exception as exc:  # the tables are written; a report problem must not hide them
        console.print(f"[yellow]report not built:[/] {type(exc).__name__}: {exc}", highlight=False)


@app.command(epilog="Example: skintex report results/\n\n" + EXIT_CODES)
def report(out: Annotated[Path, typer.Argument(help="An output folder of `skintex analyze`.")]) -> None:
    """Rebuild report.html from the saved tables of an output folder."""
    from pipelines.outputs.report import build_report

    if not out.is_dir():
        raise _fail("the output folder does not exist: give the -o folder of `skintex analyze`")
    if not (out / "metrics.csv").exists():
        raise _fail("the output folder has no metrics.csv: run `skintex analyze` first")
    try:
        path = build_report(out)
    except KeyboardInterrupt:
        console.print(f"[bold yellow]{INTERRUPTED}[/]", highlight=False)
        raise typer.Exit(code=130) from None
    except OSError as exc:
        raise _fail(f"report.html could not be written ({exc.strerror or type(exc).__name__})") from None
    console.print(f"report: {path}", highlight=False, markup=False)


@app.command(epilog="Example: skintex demo my-demo/\n\n" + EXIT_CODES)
def demo(
    out: Annotated[Path, typer.Argument(help="Output folder.")] = DEFAULT_DEMO_OUT,
    images: Annotated[Path | None, typer.Option(help="Sample folder (default: sample_images/).")] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Write into an output folder that holds files skintex did not write."),
    ] = False,
) -> None:
    """Analyse the bundled synthetic treatment series and print where the tables are."""
    from pipelines.samples import ensure_samples

    folder = ensure_samples(images)
    result = _analyze_folder(folder, out_dir=out, progress=True, force=force)
    _build_report(out)
    import pandas as pd

    key_columns = (
        "pore_count",
        "pore_mean_diameter_mm",
        "spot_area_fraction",
        "ita_deg",
        "wrinkle_count",
        "collagen_area_fraction",
        "collagen_orientation_deg",
        "collagen_coherency",
        "fibre_count",
    )
    with pd.option_context("display.width", 140, "display.max_columns", 12, "display.precision", 3):
        for modality, frame in result.metrics.groupby("modality"):
            cols = ["file", "session"] + [c for c in key_columns if c in frame and frame[c].notna().any()]
            print(f"\n{modality} metrics (key columns; all in metrics.csv):")
            print(frame[cols].to_string(index=False))
        changes = result.changes
        if not changes.empty:
            last = changes[changes["session"] == changes["session"].max()]
            last = last[last["metric"].isin(key_columns)]
            print("\nchange at the last session against baseline (changes.csv):")
            print(
                last[["subject", "metric", "session", "baseline_value", "value", "pct_change"]].to_string(
                    index=False
                )
            )
    _summarise(result, out)
    raise typer.Exit(code=result.exit_status)


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
