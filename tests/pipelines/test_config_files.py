"""Config files: hostile values, typos and unreadable files are refused before any work with one
line naming the file and key (issues 9 and 19).
"""

from __future__ import annotations

import pytest

from pipelines import analyze_folder
from pipelines.io.metadata import MetadataError


@pytest.mark.parametrize(
    "line,key",
    [
        ("time_limit_s: .inf", "time_limit_s"),
        ("time_limit_s: 1e300", "time_limit_s"),  # YAML reads this as text
        ("time_limit_s: abc", "time_limit_s"),
        ("max_pixels: yes", "max_pixels"),
        ("overlays: 'no'", "overlays"),
        ("px_per_mm: -3", "px_per_mm"),
        ("max_pixel: 100", "unknown key"),
        ("histology:\n  fibre: false", "histology.fibre"),
        ("histology:\n  threshold: abc", "histology.threshold"),
        ("!!python/object/apply:os.system ['touch pwned']", "not valid YAML"),
    ],
)
def test_hostile_config_values_are_refused_naming_file_and_key(inside, tmp_path, line, key):
    config = tmp_path / "skintex.yaml"
    config.write_text(line + "\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(MetadataError) as info:
        analyze_folder(inside, out_dir=out, config=config)
    # The file's name, not its path: messages must not carry a user's folders (issue 19).
    assert config.name in str(info.value) and str(config.parent) not in str(info.value)
    assert key in str(info.value)
    assert not out.exists() and not (tmp_path / "pwned").exists()


def test_a_typo_in_photo_options_is_refused_before_any_work(inside, tmp_path):
    config = tmp_path / "skintex.yaml"
    config.write_text("photo:\n  pore: {min_contrast: 3}\n", encoding="utf-8")
    with pytest.raises(MetadataError, match="photo"):
        analyze_folder(inside, out_dir=tmp_path / "out", config=config)
