"""skintex pipelines: folders of images in, tables (metrics, changes, errors) and a report out.

``analyze_folder`` and ``RunResult`` are imported on first use, so that importing one layer (say
``pipelines.io.decode``) or starting the command line does not import every analysis.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RunResult", "analyze_folder"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pipelines import run

        return getattr(run, name)
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")
