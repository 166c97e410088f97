"""Building the workspace hub's FastMCP server from its configuration.

Naming: the workspace's local tools keep their names (``echo``); a child
server's components are mounted with its ``mcpServers`` name as FastMCP
namespace, the scheme of ``FastMCP.mount``: tool and prompt ``<server>_<name>``
(``time`` + ``get_current_time`` = ``time_get_current_time``), resource
``<scheme>://<server>/<path>``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastmcp import FastMCP
from starlette.requests import Request
from starlette.responses import JSONResponse

from fastmcp_workspace.config import ConfigError, WorkspaceConfig
from fastmcp_workspace.connections import ConnectionTracker
from fastmcp_workspace.provider import ChildProvider
from fastmcp_workspace.supervisor import ChildServer, ServerState

__all__ = ["Hub", "build_hub"]

STARTUP_WAIT_S = 20.0
"""How long the hub waits for its children's first attempt before it listens (s)."""


@dataclass
class Hub:
    """The workspace hub: one FastMCP server over local tools and child servers.

    Attributes:
        mcp: The FastMCP server. Its lifespan starts the children, waits up
            to ``STARTUP_WAIT_S`` for each first attempt to succeed or fail,
            and stops them on shutdown.
        children: The supervised child servers by name.
        connections: The client connections notified of tool list changes.
    """

    mcp: FastMCP
    children: dict[str, ChildServer]
    connections: ConnectionTracker

    def health(self) -> dict[str, Any]:
        """The ``GET /health`` body.

        Returns:
            ``{"status": "ok" | "degraded", "servers": {name: entry}}``:
            ``"ok"`` when every child is running; entries as
            :meth:`ChildServer.health`.
        """
        servers = {name: child.health() for name, child in self.children.items()}
        running = all(c.state is ServerState.RUNNING for c in self.children.values())
        return {"status": "ok" if running else "degraded", "servers": servers}


def build_hub(config: WorkspaceConfig, **child_options: Any) -> Hub:
    """Creates the workspace hub; serves nothing until its lifespan runs.

    Sets ``config.env``, puts the workspace directory first on ``sys.path``,
    imports each module of ``config.tools`` and calls its ``register(mcp)``,
    then adds one FastMCP ``ProxyProvider`` per child server under its name
    as namespace. Adds ``GET /health``.

    Args:
        config: The workspace configuration.
        **child_options: Passed to every :class:`ChildServer` (timeouts,
            ``backoff``).

    Returns:
        The hub.

    Raises:
        ConfigError: A tool module cannot be imported, has no ``register``,
            or its ``register`` raises.
    """
    os.environ.update(config.env)
    tracker = ConnectionTracker()
    children: dict[str, ChildServer] = {}

    @asynccontextmanager
    async def lifespan(_server: FastMCP) -> AsyncIterator[dict[str, Any]]:
        for child in children.values():
            child.start()
        await asyncio.gather(*(c.wait_settled(STARTUP_WAIT_S) for c in children.values()))
        try:
            yield {}
        finally:
            await asyncio.gather(*(c.stop() for c in children.values()))

    mcp = FastMCP(
        config.name, lifespan=lifespan, middleware=[tracker], dereference_schemas=config.dereference_schemas
    )
    _register_tool_modules(mcp, config)
    for name, spec in config.servers.items():
        child = ChildServer(
            name,
            spec,
            workspace_dir=config.dir,
            on_change=tracker.send_tool_list_changed,
            **child_options,
        )
        children[name] = child
        mcp.add_provider(ChildProvider(child), namespace=name)
    hub = Hub(mcp=mcp, children=children, connections=tracker)

    @mcp.custom_route("/health", methods=["GET"])
    async def health(_request: Request) -> JSONResponse:
        return JSONResponse(hub.health())

    return hub


def _register_tool_modules(mcp: FastMCP, config: WorkspaceConfig) -> None:
    directory = str(config.dir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    for module_name in config.tools:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any import-time failure is a bad workspace
            # The traceback goes to stderr (the workspace's logs); the error
            # line that follows it says which module.
            traceback.print_exc(file=sys.stderr)
            raise ConfigError(
                f"tool module {module_name!r} failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        register = getattr(module, "register", None)
        if not callable(register):
            raise ConfigError(f"tool module {module_name!r} defines no register(mcp)")
        try:
            register(mcp)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            raise ConfigError(
                f"tool module {module_name!r}: register(mcp) raised {type(exc).__name__}: {exc}"
            ) from exc
