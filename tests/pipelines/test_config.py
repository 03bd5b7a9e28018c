"""Settings from YAML and flags, validated with the file and key at fault."""

import pytest

from pipelines.config import Settings, load_config
from pipelines.io.metadata import MetadataError


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("px_per_mm: 20\nworkers: 2\nphoto:\n  glcm_features: [contrast]\n")
    s = load_config(path, workers=3, backend=None)
    assert (s.px_per_mm, s.workers, s.photo) == (20, 3, {"glcm_features": ["contrast"]})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("px_per_mn: 20\n", r"unknown key\(s\) 'px_per_mn'"),
        ("backend: gpu\n", r"'backend' must be one of"),
        ("workers: 0\n", r"'workers' must be a whole number >= 1"),
        ("glcm_levels: 1000\n", r"'glcm_levels' must be a whole number in 2..256"),
        ("- a\n- b\n", r"must be a mapping"),
        ("px_per_mm: [\n", r"not valid YAML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(MetadataError, match=message) as info:
        load_config(path)
    assert "bad.yaml" in str(info.value)


def test_analysis_key_ignores_execution_options():
    assert Settings(workers=1).analysis_key() == Settings(workers=2, backend="serial").analysis_key()
    assert Settings(px_per_mm=20).analysis_key() != Settings(px_per_mm=25).analysis_key()
