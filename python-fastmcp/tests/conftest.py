"""Helpers that run the hub as a real subprocess, every wait bounded."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

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

    def __init__(self, directory: Path, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fastmcp_workspace", "--dir", str(directory), *extra],
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
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()


@pytest.fixture
def hub_factory():
    hubs: list[Hub] = []

    def start(directory: Path, *extra: str) -> Hub:
        hub = Hub(directory, *extra)
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        hub.stop()
