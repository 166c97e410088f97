"""The hub's FastMCP server: local tools and child servers under their names, ``GET /health``.

A real hub process with real child servers (mcp-server-time from PyPI, the
flaky fixture), called with FastMCP's client.
"""

from __future__ import annotations

import pytest
from conftest import get_health, hub_client

pytestmark = pytest.mark.anyio


async def test_tools_of_two_real_servers_are_namespaced_beside_unprefixed_local_tools(shared_hub):
    url, _ = shared_hub
    async with hub_client(url) as client:
        names = {tool.name for tool in await client.list_tools()}
        assert {"echo", "time_get_current_time", "time_convert_time", "flaky_ping"} <= names
        assert not {"get_current_time", "ping", "time_echo", "flaky_echo"} & names
        now = await client.call_tool("time_get_current_time", {"timezone": "UTC"})
        assert now.structured_content["timezone"] == "UTC"
        assert (await client.call_tool("flaky_ping", {})).data == "pong"
        assert (await client.call_tool("echo", {"text": "hi"})).data == "hi"


async def test_health_is_ok_when_every_child_runs(shared_hub):
    url, _ = shared_hub
    health = get_health(url)
    assert health["status"] == "ok"
    assert {name: entry["state"] for name, entry in health["servers"].items()} == {
        "time": "running",
        "flaky": "running",
    }
