"""Reading and checking a workspace's configuration: workspace.json or inline
JSON, the ``mcpServers`` shape, and every malformed input as ``ConfigError``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fastmcp_workspace import ConfigError, HttpServer, StdioServer, load_config


def write(tmp_path: Path, config: object) -> Path:
    (tmp_path / "workspace.json").write_text(json.dumps(config))
    return tmp_path


def test_name_defaults_to_the_directory_name(tmp_path: Path):
    config = load_config(write(tmp_path, {"tools": ["m"]}))
    assert config.name == tmp_path.name
    assert config.tools == ["m"]


@pytest.mark.parametrize(
    "config",
    [{"tool": ["m"]}, {"tools": "m"}, {"env": {"A": 1}}, ["m"], {"name": 3}, {"dereferenceSchemas": "no"}],
)
def test_malformed_config_is_a_config_error(tmp_path: Path, config: object):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, config))


def test_dereference_schemas_is_on_unless_set_false(tmp_path: Path):
    assert load_config(write(tmp_path, {})).dereference_schemas is True
    assert load_config(write(tmp_path, {"dereferenceSchemas": False})).dereference_schemas is False


def test_invalid_json_is_a_config_error(tmp_path: Path):
    (tmp_path / "workspace.json").write_text("{not json")
    with pytest.raises(ConfigError):
        load_config(tmp_path)


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError):
        load_config(tmp_path)


def test_mcp_servers_take_the_claude_desktop_shape(tmp_path: Path):
    config = load_config(
        write(
            tmp_path,
            {
                "mcpServers": {
                    "time": {"command": "python", "args": ["-m", "t"], "env": {"A": "1"}, "cwd": "sub"},
                    "docs": {"url": "http://127.0.0.1:9/mcp", "headers": {"X": "y"}},
                }
            },
        )
    )
    assert list(config.servers) == ["time", "docs"]
    assert config.servers["time"] == StdioServer("python", ["-m", "t"], {"A": "1"}, tmp_path.resolve() / "sub")
    assert config.servers["docs"] == HttpServer("http://127.0.0.1:9/mcp", {"X": "y"})


@pytest.mark.parametrize(
    "servers",
    [
        {"t": {}},
        {"t": {"command": ""}},
        {"t": {"command": "x", "args": "y"}},
        {"t": {"command": "x", "url": "http://a"}},
        {"t": {"url": "ftp://a"}},
        {"t": {"url": "http://a", "headers": {"X": 1}}},
        {"a_b": {"command": "x"}},
        {"t": "x"},
        [],
    ],
)
def test_malformed_server_is_a_config_error(tmp_path: Path, servers: object):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, {"mcpServers": servers}))


def test_inline_config_is_checked_like_the_file(tmp_path: Path):
    assert load_config(tmp_path, '{"name": "x"}').name == "x"
    with pytest.raises(ConfigError):
        load_config(tmp_path, '{"nmae": "x"}')
