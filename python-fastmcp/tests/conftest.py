"""Fixtures shared by the hub's tests: the hub as a real subprocess, every wait bounded.

Workspaces with real child servers (mcp-server-time from PyPI, the flaky
fixture), a client of the hub (FastMCP's), and its ``GET /health``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastmcp import Client

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "workspaces"


def read_line(stream, timeout: float) -> str:
    """Reads one line from ``stream``, failing the test after ``timeout`` s."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box:
        pytest.fail(f"no line within {timeout} s")
    return box[0]


class Hub:
    """A running hub process."""

    def __init__(self, directory: Path | None, *extra: str, env: dict | None = None) -> None:
        where = ["--dir", str(directory)] if directory is not None else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fastmcp_workspace", *where, *extra],
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ready(self, timeout: float = 30) -> dict:
        line = read_line(self.process.stdout, timeout)
        assert line, f"hub exited before its ready line: {self.process.stderr.read()}"
        return json.loads(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # graceful: the hub closes its children
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()


@pytest.fixture
def hub_factory():
    hubs: list[Hub] = []

    def start(directory: Path | None, *extra: str, env: dict | None = None) -> Hub:
        hub = Hub(directory, *extra, env=env)
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        hub.stop()


FIXTURES = Path(__file__).resolve().parent / "fixtures"
FLAKY = {"command": "python", "args": [str(FIXTURES / "flaky_server.py")]}
TIME = {"command": "python", "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}
LOCAL_TOOLS = '''
def register(mcp):
    @mcp.tool
    def echo(text: str) -> str:
        return text
'''


def make_workspace(directory: Path, servers: dict, tools: bool = True) -> Path:
    """Writes a workspace with ``servers`` as mcpServers and a local ``echo``."""
    directory.mkdir(parents=True, exist_ok=True)
    config: dict = {"mcpServers": servers}
    if tools:
        (directory / "local_tools.py").write_text(LOCAL_TOOLS)
        config["tools"] = ["local_tools"]
    (directory / "workspace.json").write_text(json.dumps(config))
    return directory


def hub_client(url: str, **kwargs) -> Client:
    """A FastMCP client of the hub at ``url``."""
    # The handshake era keeps a standalone (GET) stream, which carries
    # notifications that are not answers to a request.
    return Client(url, mode="legacy", timeout=20, **kwargs)


@pytest.fixture(scope="session")
def shared_hub(tmp_path_factory):
    """One hub with mcp-server-time and the flaky fixture, for read-only tests.

    Yields its URL and the file the flaky child's ``hang`` tool writes when
    it is cancelled.
    """
    directory = tmp_path_factory.mktemp("shared")
    marker = directory / "cancelled"
    servers = {"time": TIME, "flaky": {**FLAKY, "env": {"FLAKY_MARKER": str(marker)}}}
    hub = Hub(make_workspace(directory, servers))
    try:
        yield hub.ready()["url"], marker
    finally:
        hub.stop()


def get_health(url: str) -> dict:
    """``GET /health`` of the hub serving ``url``."""
    import urllib.request

    with urllib.request.urlopen(url.removesuffix("/mcp") + "/health", timeout=10) as response:
        assert response.status == 200
        return json.load(response)


@pytest.fixture
def anyio_backend():
    return "asyncio"
