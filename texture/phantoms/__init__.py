"""Synthetic images with known truth (pores of known diameter, fibres at known angles, ...).

Pure array generators, deterministic for a given ``seed``: used by the tests, the benchmarks and
``pipelines.samples`` to build ``sample_images/``.
"""
