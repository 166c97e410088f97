"""The hub's command line (``python -m fastmcp_workspace``): ready line, health
route, MCP endpoint, exit paths and error lines.

Real hub processes on loopback and on a Unix socket, called over plain HTTP.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from conftest import EXAMPLES, TIME

MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
}


def post(url: str, message: dict, headers: dict | None = None):
    request = urllib.request.Request(
        url, data=json.dumps(message).encode(), headers={**MCP_HEADERS, **(headers or {})}
    )
    return urllib.request.urlopen(request, timeout=10)


def messages(response) -> list[dict]:
    """The JSON-RPC messages of a POST's answer, JSON or SSE."""
    body = response.read().decode()
    if response.headers["Content-Type"].startswith("application/json"):
        return [json.loads(body)]
    return [json.loads(line[len("data: "):]) for line in body.splitlines() if line.startswith("data: ")]


def test_prints_exactly_one_ready_line_with_a_loopback_url(hub_factory):
    hub = hub_factory(EXAMPLES / "alpha", "--port", "0")
    ready = hub.ready()
    assert ready["event"] == "ready"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/mcp", ready["url"])
    assert set(ready) == {"event", "url"}


def test_health_route_answers_ok(hub_factory):
    url = hub_factory(EXAMPLES / "alpha", "--port", "0").ready()["url"]
    with urllib.request.urlopen(url.removesuffix("/mcp") + "/health", timeout=10) as response:
        assert response.status == 200
        assert json.load(response)["status"] == "ok"


def test_serves_the_workspace_tools_over_streamable_http(hub_factory):
    url = hub_factory(EXAMPLES / "beta", "--port", "0").ready()["url"]
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "pytest", "version": "0"},
        },
    }
    with post(url, init) as response:
        session = response.headers["Mcp-Session-Id"]
        [result] = messages(response)
    assert result["result"]["serverInfo"]["name"] == "beta"
    headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"}
    post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers).close()
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "word_count", "arguments": {"text": "one two three"}},
    }
    with post(url, call, headers) as response:
        [reply] = messages(response)
    assert reply["result"]["structuredContent"] == {"result": 3}


def test_exits_when_stdin_closes(hub_factory):
    hub = hub_factory(EXAMPLES / "alpha", "--port", "0")
    hub.ready()
    hub.process.stdin.close()
    assert hub.process.wait(timeout=10) == 0


def test_missing_directory_is_one_error_line_and_status_2(hub_factory, tmp_path: Path):
    hub = hub_factory(tmp_path / "missing", "--port", "0")
    assert hub.process.wait(timeout=30) == 2
    assert hub.process.stdout.read() == ""
    errors = hub.process.stderr.read().strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("fastmcp_workspace: error:")


def test_tool_module_that_raises_on_import_fails_before_ready(hub_factory, tmp_path: Path):
    (tmp_path / "workspace.json").write_text(json.dumps({"tools": ["broken"]}))
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    hub = hub_factory(tmp_path, "--port", "0")
    assert hub.process.wait(timeout=30) == 2
    assert hub.process.stdout.read() == ""
    assert "broken" in hub.process.stderr.read()



def test_ready_line_over_a_unix_socket_names_the_socket_and_health_answers(hub_factory, tmp_path: Path):
    import http.client
    import socket as socket_module

    path = tmp_path / "hub.sock"
    hub = hub_factory(EXAMPLES / "beta", "--uds", str(path))
    ready = hub.ready()
    assert ready == {"event": "ready", "url": "http://localhost/mcp", "uds": str(path)}

    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket_module.socket(socket_module.AF_UNIX, socket_module.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(str(path))

    connection = UnixConnection("localhost", timeout=10)
    connection.request("GET", "/health")
    response = connection.getresponse()
    assert response.status == 200 and json.load(response)["status"] == "ok"
    connection.close()
    hub.process.terminate()
    assert hub.process.wait(timeout=20) == 0
    assert not path.exists()


def test_sigterm_shuts_down_gracefully_and_stops_the_children(hub_factory):
    hub = hub_factory(EXAMPLES / "alpha", "--port", "0")
    hub.ready()
    hub.process.terminate()
    assert hub.process.wait(timeout=20) == 0
    assert hub.process.stdout.read() == ""
    assert "MCP server 'time' is running" in hub.process.stderr.read()


def test_inline_config_replaces_workspace_json(hub_factory, tmp_path: Path):
    (tmp_path / "workspace.json").write_text("{not json")
    (tmp_path / "mine.py").write_text("def register(mcp):\n    pass\n")
    inline = json.dumps({"name": "inline", "tools": ["mine"]})
    url = hub_factory(tmp_path, "--port", "0", "--config-json", inline).ready()["url"]
    with urllib.request.urlopen(url.removesuffix("/mcp") + "/health", timeout=10) as response:
        assert json.load(response) == {"status": "ok", "servers": {}}


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ("{not json", "file"),
        ("{not json", "inline"),
        (json.dumps({"tools": [], "servers": {}}), "inline"),
        (json.dumps({"mcpServers": {"time": {"args": ["-m", "mcp_server_time"]}}}), "file"),
        (json.dumps({"mcpServers": {"time": {"command": "python", "argv": []}}}), "inline"),
        (json.dumps({"tools": ["broken"]}), "file"),
    ],
    ids=["invalid-json", "invalid-json-inline", "unknown-key", "missing-command", "unknown-server-key", "module-raises"],
)
def test_bad_config_is_one_error_line_and_status_2_before_ready(
    hub_factory, tmp_path: Path, config: str, where: str
):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom\\nsecond line')\n")
    if where == "inline":
        hub = hub_factory(tmp_path, "--port", "0", "--config-json", config)
    else:
        (tmp_path / "workspace.json").write_text(config)
        hub = hub_factory(tmp_path, "--port", "0")
    assert hub.process.wait(timeout=30) == 2
    assert hub.process.stdout.read() == ""
    errors = hub.process.stderr.read().strip().splitlines()
    if "broken" in config:
        # A tool module's own failure comes with its traceback, before the error line.
        assert errors[0] == "Traceback (most recent call last):"
        assert "RuntimeError: boom" in "\n".join(errors)
        errors = errors[-1:]
    assert len(errors) == 1 and errors[0].startswith("fastmcp_workspace: error: ")


def test_an_inline_workspace_without_dir_works_in_a_private_directory_removed_on_exit(hub_factory, tmp_path: Path):
    config = json.dumps({"mcpServers": {"time": TIME}})
    hub = hub_factory(None, "--port", "0", "--config-json", config, env={"TMPDIR": str(tmp_path)})
    hub.ready()
    [private] = list(tmp_path.iterdir())
    assert private.name.startswith("fastmcp-workspace-")
    assert private.stat().st_mode & 0o777 == 0o700
    hub.process.stdin.close()  # end of file on stdin: the hub exits
    assert hub.process.wait(timeout=30) == 0
    assert list(tmp_path.iterdir()) == []


def test_neither_dir_nor_inline_config_is_a_usage_error(hub_factory):
    hub = hub_factory(None, "--port", "0")
    assert hub.process.wait(timeout=30) == 2
    assert "--dir is required unless --config-json" in hub.process.stderr.read()
