"""`import pipelines.cli` stays light, so that `skintex --help` starts fast (issue 18: under 0.5 s).

Structural, not timed: a fresh interpreter imports the CLI and lists the heavy packages it loaded.
Each command imports the analysis when it runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "cv2", "pandas", "scipy", "matplotlib", "skan", "numba", "dask", "distributed", "texture")


def _loaded_after(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_cli_import_loads_no_heavy_package():
    loaded = _loaded_after("import pipelines.cli")
    heavy = sorted({name.split(".")[0] for name in loaded} & set(HEAVY))
    assert heavy == [], f"import pipelines.cli loaded {heavy}"


def test_the_check_sees_a_heavy_import():
    # The same check on a module that does import the analysis must see it (the test can fail).
    loaded = _loaded_after("import texture.glcm")
    assert {"numpy", "cv2"} <= {name.split(".")[0] for name in loaded}
