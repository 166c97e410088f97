"""Tracking the hub's client connections, to notify them all."""

from __future__ import annotations

import logging
import weakref
from typing import Any

import anyio
from fastmcp.server.middleware import Middleware, MiddlewareContext
from fastmcp.server.middleware.middleware import CallNext

__all__ = ["ConnectionTracker"]

log = logging.getLogger("fastmcp_workspace.connections")


class ConnectionTracker(Middleware):
    """FastMCP middleware that remembers every live client connection.

    FastMCP sends ``notifications/tools/list_changed`` only from inside a
    request, to that request's session; a child server going down or coming
    back happens outside any request. This middleware records the MCP SDK
    ``Connection`` of every request it sees (held weakly, so closed sessions
    drop out) and :meth:`send_tool_list_changed` notifies each of them on its
    standalone stream (the GET stream of streamable HTTP; MCP 2025-06-18,
    Basic / Transports / Streamable HTTP, "Listening for Messages from the
    Server").
    """

    def __init__(self) -> None:
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()

    async def __call__(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        # Overrides the entry point rather than the on_message hook: the base
        # class would wrap every message in one handler per hook (on_message,
        # on_request, on_call_tool, ...), about six coroutine layers per call.
        ctx = context.fastmcp_context
        if ctx is not None:
            try:
                connection = getattr(ctx.session, "_connection", None)
            except RuntimeError:  # no session yet
                connection = None
            if connection is not None:
                self._connections.add(connection)
        return await call_next(context)

    def __len__(self) -> int:
        return len(self._connections)

    async def send_tool_list_changed(self, timeout: float = 1.0) -> None:
        """Sends ``notifications/tools/list_changed`` to every connection.

        Best effort: a connection without a standalone stream drops it, and
        each send is abandoned after ``timeout`` seconds.
        """
        for connection in list(self._connections):
            with anyio.move_on_after(timeout):
                try:
                    await connection.send_tool_list_changed()
                except Exception:  # noqa: BLE001 - one broken client must not stop the rest
                    log.debug("tools/list_changed not delivered", exc_info=True)
