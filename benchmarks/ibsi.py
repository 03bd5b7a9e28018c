"""Benchmark: every IBSI texture family against PyRadiomics, and the GLCM against scikit-image.

Run ``python3 benchmarks/ibsi.py [--repeats N] [--skimage-only]``.

1. Each family of :data:`texture.FEATURE_FAMILIES` (all its features, 32 grey levels by IBSI fixed
   bin number, whole-image mask, 2D) against the PyRadiomics feature class that computes the same
   family (all its features enabled, ``binCount=32``, ``force2D``) on the same 512^2 and 1024^2 image.
   Goal: ours / PyRadiomics <= 0.5 for every family. GLDZM has no PyRadiomics class (no peer).
2. ``glcm_features`` (25 features) against scikit-image ``graycomatrix`` (4 angles, symmetric,
   normed) + ``graycoprops`` (its 6 properties) at 32 and 256 levels on 1024^2. scikit-image gets
   the image already discretised (its quantisation is not timed); ours discretises inside.
   Goal: ratio <= 0.5. Then the first ``glcm_features`` of a fresh process (32 levels, 1024^2; goal
   <= 50 ms: nothing to compile or load at first use, unlike the reverted numba kernel's 0.5-0.6 s).

PyRadiomics is a peer, never a dependency of skintex: it lives in its own virtual environment
(PyRadiomics 3.x needs numpy < 2), found at ``$SKINTEX_RADIOMICS_PYTHON`` or
``/work/radiomics-venv/bin/python``. The image is saved as ``.npy``; a PyRadiomics process loads it
once and answers timing requests over a pipe, so that every repetition alternates ours / theirs
(interleaved: both see the same machine load). Times are min and median of the repetitions.
Without that environment the PyRadiomics lines are replaced by a note on how to set it up, and the
scikit-image comparisons still run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.feature import graycomatrix, graycoprops

from texture import FEATURE_FAMILIES

try:
    from benchmarks._report import result
except ImportError:  # run as a script: benchmarks/ is on sys.path, the repository root may not be
    from _report import result

LEVELS = 32
SIZES = (512, 1024)
RADIOMICS_PYTHON = os.environ.get("SKINTEX_RADIOMICS_PYTHON", "/work/radiomics-venv/bin/python")
SETUP_HINT = (
    "python3.11 -m venv /work/radiomics-venv && /work/radiomics-venv/bin/pip install 'numpy<2' "
    "SimpleITK PyWavelets pykwalify six setuptools versioneer && /work/radiomics-venv/bin/pip install "
    "--no-build-isolation pyradiomics==3.0.1  (or set SKINTEX_RADIOMICS_PYTHON)"
)
# Our family -> PyRadiomics feature class (GLDM is PyRadiomics' name for the IBSI NGLDM).
RADIOMICS_CLASS = {
    "firstorder": "firstorder",
    "glcm": "glcm",
    "glrlm": "glrlm",
    "glszm": "glszm",
    "gldzm": None,
    "ngtdm": "ngtdm",
    "ngldm": "gldm",
}
SKIMAGE_PROPS = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")

# Runs inside the PyRadiomics environment: reads "path class" lines, answers seconds as JSON.
_RADIOMICS_SERVER = r"""
import json, sys, time, logging
import numpy as np, SimpleITK as sitk
import radiomics
from radiomics import firstorder, glcm, glrlm, glszm, ngtdm, gldm
radiomics.setVerbosity(logging.ERROR)
CLASSES = {"firstorder": firstorder.RadiomicsFirstOrder, "glcm": glcm.RadiomicsGLCM,
           "glrlm": glrlm.RadiomicsGLRLM, "glszm": glszm.RadiomicsGLSZM,
           "ngtdm": ngtdm.RadiomicsNGTDM, "gldm": gldm.RadiomicsGLDM}
SETTINGS = dict(binCount=int(sys.argv[1]), force2D=True, force2Ddimension=0, distances=[1])
images = {}
print(json.dumps({"version": radiomics.__version__}), flush=True)
for line in sys.stdin:
    path, name = line.split()
    if path not in images:
        array = np.load(path)[None].astype(np.float64)
        image = sitk.GetImageFromArray(array)
        mask = sitk.GetImageFromArray(np.ones(array.shape, dtype=np.uint8))
        mask.CopyInformation(image)
        images[path] = (image, mask)
    image, mask = images[path]
    start = time.perf_counter()
    extractor = CLASSES[name](image, mask, **SETTINGS)
    extractor.enableAllFeatures()
    values = extractor.execute()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "values": {k: float(v) for k, v in values.items()}}), flush=True)
"""


def test_image(size: int) -> np.ndarray:
    """Smoothed noise stretched to 0..255: a texture with a full 8-bit range."""
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.normal(size=(size, size)).astype(np.float32), (0, 0), 2.0)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return np.round(noise * 255).astype(np.uint8)


class Radiomics:
    """A PyRadiomics process that times one feature class per request."""

    def __init__(self, python: str) -> None:
        self.proc = subprocess.Popen(
            [python, "-c", _RADIOMICS_SERVER, str(LEVELS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.version = json.loads(self.proc.stdout.readline())["version"]

    def run(self, path: Path, name: str) -> tuple[float, dict[str, float]]:
        self.proc.stdin.write(f"{path} {name}\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        return answer["seconds"], answer["values"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def start_radiomics() -> Radiomics | None:
    if not Path(RADIOMICS_PYTHON).exists():
        return None
    try:
        return Radiomics(RADIOMICS_PYTHON)
    except (OSError, ValueError, json.JSONDecodeError):
        return None


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def summary(times: list[float]) -> str:
    return f"min {min(times) * 1e3:8.1f} ms, median {np.median(times) * 1e3:8.1f} ms"


def compare(label: str, ours: list[float], theirs: list[float], goal: float, peer: str) -> None:
    ratio_min = min(ours) / min(theirs)
    ratio_median = float(np.median(ours) / np.median(theirs))
    print(f"  ours   {summary(ours)}")
    print(f"  {peer:<6} {summary(theirs)}")
    result(
        f"{label} / {peer} time",
        ratio_min,
        goal=goal,
        note=f"min ratio; median ratio {ratio_median:.2f}; ours {min(ours) * 1e3:.1f} ms",
    )


def skimage_glcm(codes: np.ndarray, levels: int) -> dict[str, float]:
    matrices = graycomatrix(
        codes, [1], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=levels, symmetric=True, normed=True
    )
    return {prop: float(graycoprops(matrices, prop).mean()) for prop in SKIMAGE_PROPS}


def families_vs_radiomics(radiomics: Radiomics, folder: Path, repeats: int, only: list[str]) -> None:
    print(f"PyRadiomics {radiomics.version} (its own environment: {RADIOMICS_PYTHON})")
    for size in SIZES:
        image = test_image(size)
        path = folder / f"image_{size}.npy"
        np.save(path, image)
        for name, family in FEATURE_FAMILIES.items():
            if only and name not in only:
                continue
            function = getattr(importlib.import_module(family.module), family.function)
            peer = RADIOMICS_CLASS[name]
            print(f"{name} {size}x{size}, {LEVELS} levels")
            if peer is None:
                ours = [timed(lambda f=function, x=image: f(x, levels=LEVELS)) for _ in range(repeats)]
                print(f"  ours   {summary(ours)}; PyRadiomics has no {name} (no peer)")
                result(
                    f"IBSI {name} {size}^2 {LEVELS} levels time",
                    min(ours) * 1e3,
                    fmt=".1f",
                    unit=" ms",
                    note="no PyRadiomics peer",
                )
                continue
            function(image, levels=LEVELS)  # warm-up
            radiomics.run(path, peer)
            ours, theirs = [], []
            for _ in range(repeats):
                ours.append(timed(lambda f=function, x=image: f(x, levels=LEVELS)))
                theirs.append(radiomics.run(path, peer)[0])
            compare(f"IBSI {name} {size}^2 {LEVELS} levels", ours, theirs, 0.5, "PyRadiomics")


def glcm_vs_skimage(repeats: int) -> None:
    from texture.discretisation import discretise
    from texture.glcm import glcm_features

    image = test_image(1024)
    for levels in (32, 256):
        codes, _ = discretise(image, mask=np.ones(image.shape, bool), levels=levels)
        ours_values = glcm_features(image, levels=levels)
        theirs_values = skimage_glcm(codes, levels)
        ours, theirs = [], []
        for _ in range(repeats):
            theirs.append(timed(lambda c=codes, n=levels: skimage_glcm(c, n)))
            ours.append(timed(lambda n=levels: glcm_features(image, levels=n)))
        print(
            f"glcm 1024x1024, {levels} levels (check: contrast {ours_values['glcm_contrast']:.6f} "
            f"vs skimage {theirs_values['contrast']:.6f})"
        )
        compare(f"IBSI glcm 1024^2 {levels} levels", ours, theirs, 0.5, "scikit-image")
    first_call_in_fresh_process()


# A new interpreter: import, then time the first and second glcm_features of a 32-level 1024^2 image.
_FIRST_CALL = r"""
import json, sys, time
start = time.perf_counter()
from texture.glcm import glcm_features
imported = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from ibsi import test_image
image = test_image(1024)
times = []
for _ in range(2):
    begin = time.perf_counter()
    glcm_features(image, levels=32)
    times.append(time.perf_counter() - begin)
print(json.dumps({"import": imported - start, "first": times[0], "second": times[1]}))
"""


def first_call_in_fresh_process() -> None:
    root = Path(__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root.parent), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL, str(root)], capture_output=True, text=True, check=True, env=env
    )
    seconds = json.loads(out.stdout.splitlines()[-1])
    result(
        "IBSI glcm 1024^2 32 levels first call in a fresh process",
        seconds["first"] * 1e3,
        goal=50,
        fmt=".1f",
        unit=" ms",
        note=(
            f"then {seconds['second'] * 1e3:.1f} ms; import of texture.glcm with numpy, OpenCV "
            f"{seconds['import'] * 1e3:.0f} ms"
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--families", nargs="*", default=[], help="only these families (default: all)")
    parser.add_argument("--no-skimage", action="store_true", help="skip the scikit-image comparison")
    parser.add_argument(
        "--skimage-only", action="store_true", help="only the GLCM against scikit-image (section 2)"
    )
    args = parser.parse_args(argv)
    print(f"OpenCV threads {cv2.getNumThreads()}; shared machine: load average {os.getloadavg()[0]:.1f}")
    if args.skimage_only:
        glcm_vs_skimage(args.repeats)
        return 0
    radiomics = start_radiomics()
    with tempfile.TemporaryDirectory() as tmp:
        if radiomics is None:
            print(f"PyRadiomics not available (how to set it up: {SETUP_HINT})")
            result("IBSI families / PyRadiomics", float("nan"), note="PyRadiomics not available")
        else:
            try:
                families_vs_radiomics(radiomics, Path(tmp), args.repeats, args.families)
            finally:
                radiomics.close()
    if not args.no_skimage:
        glcm_vs_skimage(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
