"""Reading workspace.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fastmcp_workspace import ConfigError, load_config


def write(tmp_path: Path, config: object) -> Path:
    (tmp_path / "workspace.json").write_text(json.dumps(config))
    return tmp_path


def test_name_defaults_to_the_directory_name(tmp_path: Path):
    config = load_config(write(tmp_path, {"tools": ["m"]}))
    assert config.name == tmp_path.name
    assert config.tools == ["m"]


@pytest.mark.parametrize(
    "config",
    [{"tool": ["m"]}, {"tools": "m"}, {"env": {"A": 1}}, ["m"], {"name": 3}],
)
def test_malformed_config_is_a_config_error(tmp_path: Path, config: object):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, config))


def test_invalid_json_is_a_config_error(tmp_path: Path):
    (tmp_path / "workspace.json").write_text("{not json")
    with pytest.raises(ConfigError):
        load_config(tmp_path)


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError):
        load_config(tmp_path)
