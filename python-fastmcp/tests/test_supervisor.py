"""Supervising child servers: restart after a crash, failure after the last
backoff delay, progress, logs and cancellation relayed, the hub's ``python``.

Real hub processes with real child servers (mcp-server-time from PyPI, the
flaky fixture), called with FastMCP's client.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import anyio
import mcp.types as mcp_types
import pytest
from conftest import FLAKY, TIME, get_health, hub_client, make_workspace

from fastmcp_workspace.supervisor import resolve_command

pytestmark = pytest.mark.anyio


def test_python_command_means_the_hub_interpreter():
    assert resolve_command("python") == sys.executable
    assert resolve_command("python3") == sys.executable
    assert resolve_command("node") == "node"


async def test_progress_and_log_messages_of_a_child_reach_the_caller(shared_hub):
    url, _ = shared_hub
    progress: list[tuple[float, float | None]] = []
    logs: list[str] = []

    async def on_progress(value: float, total: float | None, _message: str | None) -> None:
        progress.append((value, total))

    async def on_log(message) -> None:
        logs.append(message.data["msg"] if isinstance(message.data, dict) else message.data)

    async with hub_client(url, log_handler=on_log) as client:
        with anyio.fail_after(20):
            result = await client.call_tool("flaky_work", {"steps": 3}, progress_handler=on_progress)
            # With JSON responses, related notifications ride the GET stream
            # and may trail the result by a moment.
            while len(progress) < 3 or len(logs) < 3:
                await asyncio.sleep(0.05)
    assert result.data == 3
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert logs == ["step 1", "step 2", "step 3"]


async def test_cancelling_a_call_cancels_it_in_the_child(shared_hub):
    url, marker = shared_hub
    async with hub_client(url) as client:
        with anyio.move_on_after(2):
            await client.call_tool("flaky_hang", {})
        with anyio.fail_after(10):
            while not marker.exists():
                await asyncio.sleep(0.05)
    assert marker.read_text() == "cancelled"


async def test_a_child_that_crashes_comes_back_and_clients_are_told_twice(hub_factory, tmp_path: Path):
    once = tmp_path / "crashed-once"
    servers = {"time": TIME, "flaky": {**FLAKY, "env": {"FLAKY_CRASH_ONCE": str(once)}}}
    url = hub_factory(make_workspace(tmp_path / "ws", servers)).ready()["url"]
    changes: list[set[str]] = []

    async def on_message(message) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            changes.append(set())

    async with hub_client(url, message_handler=on_message) as client:
        assert "flaky_ping" in {t.name for t in await client.list_tools()}
        with pytest.raises(Exception):
            await client.call_tool("flaky_crash", {})
        with anyio.fail_after(15):
            while not changes:
                await asyncio.sleep(0.05)
            # Down: its tools are gone, the other child's remain.
            names = {t.name for t in await client.list_tools()}
            if "flaky_ping" not in names:
                assert "time_get_current_time" in names
                assert get_health(url)["status"] == "degraded"
            while len(changes) < 2:
                await asyncio.sleep(0.05)
        assert (await client.call_tool("flaky_ping", {})).data == "pong"
    health = get_health(url)
    assert health["status"] == "ok"
    assert health["servers"]["flaky"]["restarts"] == 1
    assert once.exists()


async def test_a_child_that_cannot_start_fails_alone(hub_factory, tmp_path: Path):
    servers = {"time": TIME, "missing": {"command": str(tmp_path / "no-such-server")}}
    hub = hub_factory(
        make_workspace(tmp_path / "ws", servers),
        env={"FASTMCP_WORKSPACE_RESTART_ATTEMPTS": "1", "FASTMCP_WORKSPACE_RESTART_DELAY": "0.1"},
    )
    url = hub.ready()["url"]
    with anyio.fail_after(15):
        while (health := get_health(url))["servers"]["missing"]["state"] != "failed":
            assert health["servers"]["missing"]["state"] in ("starting", "restarting")
            await asyncio.sleep(0.05)
    assert health["status"] == "degraded"
    assert health["servers"]["time"]["state"] == "running"
    assert health["servers"]["missing"]["restarts"] == 1
    assert health["servers"]["missing"]["error"]
    async with hub_client(url) as client:
        names = {t.name for t in await client.list_tools()}
    assert "time_get_current_time" in names and not any(n.startswith("missing_") for n in names)
