"""What a running child server contributes to the hub (``ChildProvider``): the
tools it listed, under its name, with calls proxied to it.

A real FastMCP server with the provider mounted under the child's name, a
real stdio child (the flaky fixture), and FastMCP's in-memory client.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FLAKY
from fastmcp import Client, FastMCP

from fastmcp_workspace import ChildServer, ServerState, StdioServer
from fastmcp_workspace.provider import ChildProvider

pytestmark = pytest.mark.anyio


async def nothing_changed() -> None:
    pass


def hub_over(child: ChildServer) -> FastMCP:
    mcp = FastMCP("hub")
    mcp.add_provider(ChildProvider(child), namespace=child.name)
    return mcp


async def test_a_running_child_serves_the_tools_it_listed_under_its_name(tmp_path: Path):
    child = ChildServer("flaky", StdioServer(FLAKY["command"], FLAKY["args"]), workspace_dir=tmp_path,
                        on_change=nothing_changed)
    child.start()
    try:
        await child.wait_settled(20)
        assert child.state is ServerState.RUNNING, child.last_error
        async with Client(hub_over(child)) as client:
            names = {tool.name for tool in await client.list_tools()}
            assert names == {f"flaky_{tool.name}" for tool in child.tools}
            assert (await client.call_tool("flaky_ping", {})).data == "pong"
    finally:
        await child.stop()

