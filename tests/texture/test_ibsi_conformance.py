"""IBSI digital phantom conformance of every texture family against the reference manual's values.

Every row of ``ibsi_phantom/reference_values.csv`` becomes one test, with the aggregation the row
names ("2D, averaged", "2D, slice-merged", "2D", "2.5D, ...", "3D, ..."; first-order rows have
none: the whole ROI), checked within the CSV's tolerance. A row with an aggregation the library
does not know would be skipped with the reason; currently there is none.
"""

import csv
from functools import cache

import numpy as np
import pytest

from tests.conftest import data_set
from texture import FEATURE_FAMILIES, IBSI_AGGREGATIONS

PHANTOM = data_set("ibsi_phantom")  # tests/data/ibsi_phantom (CC BY 4.0, see its LICENSE.md)

# CSV family -> our family, from the library's own registry (not a list of the test's own).
FAMILY_OF = {name: fam for fam in FEATURE_FAMILIES.values() for name in fam.ibsi_families}
# CSV aggregation -> keyword arguments, from the library (anything else is not implemented).
AGGREGATIONS = IBSI_AGGREGATIONS


def _rows() -> list:
    path = PHANTOM / "reference_values.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    params = []
    for row in rows:
        test_id = f"{row['family']}-{row['feature']}-{row['aggregation'] or 'none'}"
        marks = ()
        if row["aggregation"] not in AGGREGATIONS:
            marks = pytest.mark.skip(reason=f"IBSI {row['aggregation']} aggregation not implemented")
        params.append(pytest.param(row, id=test_id, marks=marks))
    return params


@cache
def _features(family: str, aggregation: str) -> dict[str, float]:
    image = np.load(PHANTOM / "image.npy")
    mask = np.load(PHANTOM / "mask.npy")
    return FAMILY_OF[family].compute(image, mask=mask, **AGGREGATIONS[aggregation])


@pytest.mark.parametrize("row", _rows())
def test_phantom_reference_value(row, shared_data):
    prefix = FAMILY_OF[row["family"]].prefix
    ours = _features(row["family"], row["aggregation"])[f"{prefix}_{row['feature']}"]
    reference, tolerance = float(row["value"]), float(row["tolerance"])
    assert abs(ours - reference) <= tolerance, (
        f"{row['feature']} ({row['ibsi_code']}): ours {ours:.6g}, IBSI {reference} ± {tolerance}"
    )


def test_reference_table_is_present(shared_data):
    assert len(_rows()) > 400


def test_every_ibsi_family_of_the_reference_table_is_registered(shared_data):
    assert {row["family"] for row in (r.values[0] for r in _rows())} <= set(FAMILY_OF)
