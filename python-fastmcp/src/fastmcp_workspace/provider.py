"""The FastMCP provider that serves one supervised child server's components."""

from __future__ import annotations

from collections.abc import Sequence

from fastmcp.prompts import Prompt
from fastmcp.resources import Resource, ResourceTemplate
from fastmcp.server.providers.proxy import ProxyProvider, ProxyTool
from fastmcp.tools import Tool
from fastmcp.utilities.versions import VersionSpec

from fastmcp_workspace.supervisor import ChildServer, ServerState

__all__ = ["ChildProvider"]


class ChildProvider(ProxyProvider):
    """FastMCP's ``ProxyProvider`` over a :class:`ChildServer`.

    While the child is running its tools are the ones it listed when it came
    up (or after its last ``notifications/tools/list_changed``), so
    ``tools/list`` on the hub costs no round trip to the child; resources and
    prompts are listed through the proxy on demand. While it is not running
    it contributes nothing, so its components disappear from the hub instead
    of failing its list calls.

    Args:
        child: The supervised child.
    """

    def __init__(self, child: ChildServer) -> None:
        # cache_ttl=0: lookups of resources and prompts go to the child, whose
        # process may have been replaced since the last listing.
        super().__init__(child.client_factory, cache_ttl=0)
        self.child = child

    def _running(self) -> bool:
        return self.child.state is ServerState.RUNNING

    async def _list_tools(self) -> Sequence[Tool]:
        if not self._running():
            return []
        return [ProxyTool.from_mcp_tool(self.client_factory, tool) for tool in self.child.tools]

    async def _get_tool(self, name: str, version: VersionSpec | None = None) -> Tool | None:
        for tool in await self._list_tools():
            if tool.name == name and (version is None or version.matches(tool.version)):
                return tool
        return None

    async def _list_resources(self) -> Sequence[Resource]:
        return await super()._list_resources() if self._running() else []

    async def _list_resource_templates(self) -> Sequence[ResourceTemplate]:
        return await super()._list_resource_templates() if self._running() else []

    async def _list_prompts(self) -> Sequence[Prompt]:
        return await super()._list_prompts() if self._running() else []
