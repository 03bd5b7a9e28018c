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


# ---------------------------------------------------------------------------------------------
# Issue 19: config files that cannot be read are one `error:` line, fast, bounded


BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "px_per_mm: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
)


@pytest.mark.parametrize(
    "name,content,words",
    [
        ("latin1.yaml", 'pattern: "caf\xe9"\n'.encode("latin-1"), "not UTF-8"),
        ("deep.yaml", ("[" * 5000 + "]" * 5000).encode(), "nested deeper than"),
        ("laughs.yaml", BILLION_LAUGHS.encode(), "aliases (*name) are not allowed"),
        ("folder", None, "is not a file"),
        ("long.yaml", b"px_per_mm: '" + b"9" * 1_000_000 + b"'\n", "px_per_mm"),
    ],
)
def test_unreadable_configs_are_one_error_line(inside, tmp_path, name, content, words):
    """Issue 19: a Latin-1 config, a folder as --config and 5000-deep YAML gave tracebacks; a 308-byte
    billion-laughs config hung > 120 s at 0.9 GB+ with a 351 MB message."""
    import time

    from typer.testing import CliRunner

    from pipelines.cli import app

    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    started = time.monotonic()
    with pytest.raises(MetadataError) as info:
        analyze_folder(inside, out_dir=tmp_path / "out", config=path)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert words in message and len(message) <= 400 and str(tmp_path) not in message
    cli = CliRunner().invoke(
        app, ["analyze", str(inside), "-o", str(tmp_path / "out"), "--config", str(path)]
    )
    assert cli.exit_code == 1
    assert cli.output.lstrip().startswith("error:") and "Traceback" not in cli.output
    assert not (tmp_path / "out").exists()
