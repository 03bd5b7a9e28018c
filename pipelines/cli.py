"""The ``skintex`` command: ``analyze``, ``report``, ``demo``.

Exit status: 0 when every image was analysed, 2 when the run finished but some images are in
``errors.csv``, 1 for a usage or configuration error (nothing written).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.io.metadata import MetadataError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Validated skin measurements from clinical photos and histology.",
)
console = Console(stderr=True)

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
    console.print(
        f"analysed {info['analysed']} of {info['images']} images ({info['failed']} failed, "
        f"{warned} warning{plural}, {info['cached']} from cache)"
        + (": see errors.csv" if warned or info["failed"] else ""),
        highlight=False,
    )
    for name in ("metrics.csv", "changes.csv", "cohort.csv", "errors.csv", "run.json", "report.html"):
        if (out / name).exists():
            console.print(f"  {out / name}", highlight=False, markup=False)


@app.command()
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
) -> None:
    """Analyse a folder of photos and histology into tables (and a report)."""
    from pipelines.run import analyze_folder

    try:
        result = analyze_folder(
            input,
            out_dir=out,
            manifest=manifest,
            config=config,
            progress=True,
            pattern=pattern,
            px_per_mm=px_per_mm,
            workers=workers,
            backend=backend,
            scheduler=scheduler,
            cache=False if no_cache else None,
        )
    except MetadataError as exc:
        raise _fail(str(exc)) from None
    if not no_report:
        _build_report(out)
    _summarise(result, out)
    raise typer.Exit(code=result.exit_status)


def _build_report(out: Path) -> None:
    from pipelines.outputs.report import build_report

    try:
        build_report(out)
    except Exception as exc:  # the tables are written; a report problem must not hide them
        console.print(f"[yellow]report not built:[/] {type(exc).__name__}: {exc}", highlight=False)


@app.command()
def report(out: Annotated[Path, typer.Argument(help="An output folder of `skintex analyze`.")]) -> None:
    """Rebuild report.html from the saved tables of an output folder."""
    from pipelines.outputs.report import build_report

    if not (out / "metrics.csv").exists():
        raise _fail(f"{out} has no metrics.csv: run `skintex analyze` first")
    path = build_report(out)
    console.print(f"report: {path}", highlight=False, markup=False)


@app.command()
def demo(
    out: Annotated[Path, typer.Argument(help="Output folder.")] = DEFAULT_DEMO_OUT,
    images: Annotated[Path | None, typer.Option(help="Sample folder (default: sample_images/).")] = None,
) -> None:
    """Analyse the bundled synthetic treatment series and print where the tables are."""
    from pipelines.run import analyze_folder
    from pipelines.samples import ensure_samples

    folder = ensure_samples(images)
    result = analyze_folder(folder, out_dir=out, progress=True)
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
