"""Write docs/report_screenshot.png: the HTML report of a synthetic series in headless Chromium.

Run from the repository root: ``python3 docs/make_report_screenshot.py``. Needs Chromium
(Debian: ``apt-get install -y chromium``). Uses the same synthetic output folder and browser
driver as ``tests/pipelines/test_report.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.outputs.report import build_report  # noqa: E402
from tests.pipelines.report_fixture import (  # noqa: E402
    find_chromium,
    open_in_chromium,
    write_series_output,
)


def main(target: Path = ROOT / "docs" / "report_screenshot.png") -> int:
    chromium = find_chromium()
    if chromium is None:
        print("chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="skintex-report-") as tmp:
        out = write_series_output(Path(tmp) / "out", hostile_name="p3", session_marks=False)
        check = open_in_chromium(build_report(out), chromium=chromium, screenshot=target)
    if check.errors:
        print("\n".join(check.errors), file=sys.stderr)
        return 1
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
