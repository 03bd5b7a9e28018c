"""Quality-control values per image (``qc.csv``): how each image was captured and processed.

The identity columns, then every column the metric catalogue (:mod:`pipelines.tables.catalogue`) gives
the role ``qc``: areas measured, thresholds, exposure gain, colour-chart errors, registration error,
slide tiling and the ``_px`` twins of physical lengths. They describe the measurement, not the skin, so
they have no changes and no cohort statistics.
"""

from __future__ import annotations

import pandas as pd

from pipelines.record import IDENTITY_COLUMNS
from pipelines.tables.catalogue import qc_columns

__all__ = ["qc_table"]


def qc_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per image: identity columns, then the quality-control columns present in ``metrics``."""
    identity = [c for c in IDENTITY_COLUMNS if c in metrics.columns]
    return metrics[[*identity, *qc_columns(metrics.columns)]].reset_index(drop=True)
