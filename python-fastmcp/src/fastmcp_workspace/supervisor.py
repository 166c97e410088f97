"""Supervising one child MCP server of the hub.

Theory of operation
-------------------

A :class:`ChildServer` owns one background task. The task connects a
FastMCP :class:`~fastmcp.server.providers.proxy.ProxyClient` to the child
(spawning it for a stdio server), lists its tools, marks the child
``running`` and then pings it every ``ping_interval`` seconds. When the
connection fails, the initialize handshake does not finish within
``start_timeout``, or a ping fails or takes longer than ``ping_timeout``,
the child is closed (a stdio child gets its stdin closed, then SIGTERM, then
SIGKILL, by the MCP SDK), its tools are withdrawn, and the task waits the
next :class:`~fastmcp_workspace.backoff.Backoff` delay before connecting
again. When the delays run out the child is ``failed`` and stays down; the
hub keeps serving everything else. A child that stayed up for
``stable_after`` seconds starts over at the first delay.

Each time the set of tools the child contributes changes (it came up, went
down, or sent ``notifications/tools/list_changed``) the ``on_change``
callback runs; the hub uses it to send ``notifications/tools/list_changed``
to its own clients.

A stdio child has a single MCP session, which FastMCP's stdio transport
keeps alive and shares between every client made from the supervisor's
client with ``new()`` (one per proxied call). Progress notifications carry
their request's progress token and reach the right caller; cancellation is
forwarded as ``notifications/cancelled``. Requests and notifications that a
stdio child sends without a request to relate them to (``notifications/message``,
sampling, elicitation, roots) are relayed to the most recent call still in
flight on that child, and are logged on stderr when there is none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
import weakref
from collections.abc import Awaitable, Callable
from enum import Enum
from pathlib import Path
from typing import Any

import anyio
import mcp.types as mcp_types
from fastmcp.client import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from fastmcp.exceptions import ToolError
from fastmcp.server.providers import proxy as fastmcp_proxy
from fastmcp.server.providers.proxy import ProxyClient

from fastmcp_workspace.backoff import Backoff
from fastmcp_workspace.config import HttpServer, ServerSpec, StdioServer

__all__ = ["ChildServer", "ServerState", "resolve_command"]

log = logging.getLogger("fastmcp_workspace.supervisor")

# "python" in a workspace means the interpreter the hub runs on, so that a
# server installed next to the hub (its venv) is found without PATH.
_HUB_PYTHON_NAMES = {"python", "python3"}


class ServerState(str, Enum):
    """Where a child server is in its life cycle."""

    STARTING = "starting"
    """First connection attempt in progress."""
    RUNNING = "running"
    """Connected; its tools are served."""
    RESTARTING = "restarting"
    """Down; waiting for the next attempt or attempting again."""
    FAILED = "failed"
    """Down for good: every backoff delay was used."""


def resolve_command(command: str) -> str:
    """Maps ``"python"`` and ``"python3"`` to the hub's interpreter.

    Args:
        command: A stdio server's ``command``.

    Returns:
        ``sys.executable`` for those two names, else ``command`` unchanged
        (looked up on ``PATH`` by the OS when it has no slash).
    """
    return sys.executable if command in _HUB_PYTHON_NAMES else command


class ChildServer:
    """A supervised child MCP server, served through FastMCP's proxy.

    Args:
        name: The server's name in ``mcpServers`` (its namespace).
        spec: How to reach it.
        workspace_dir: Default working directory of a stdio child.
        on_change: Awaited after the child's tool set changed.
        backoff: Restart delays. Default ``Backoff()``.
        start_timeout: Seconds a connection attempt (spawn, initialize,
            ``tools/list``) may take. Default 20.
        ping_interval: Seconds between liveness pings. Default 1.
        ping_timeout: Seconds a ping may take. Default 5.
        stable_after: Seconds up after which the backoff starts over.
            Default 30.
    """

    def __init__(
        self,
        name: str,
        spec: ServerSpec,
        *,
        workspace_dir: Path,
        on_change: Callable[[], Awaitable[None]],
        backoff: Backoff = Backoff(),
        start_timeout: float = 20.0,
        ping_interval: float = 1.0,
        ping_timeout: float = 5.0,
        stable_after: float = 30.0,
    ) -> None:
        self.name = name
        self.spec = spec
        self.state = ServerState.STARTING
        self.restarts = 0
        self.last_error: str | None = None
        self.tools: list[mcp_types.Tool] = []
        self._workspace_dir = workspace_dir
        self._on_change = on_change
        self._backoff = backoff
        self._start_timeout = start_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._stable_after = stable_after
        self._client: ProxyClient | None = None
        self._issued: list[weakref.ref[Client]] = []
        self._settled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- control ---------------------------------------------------------

    def start(self) -> None:
        """Starts the background task (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"child-{self.name}")

    async def wait_settled(self, timeout: float) -> None:
        """Waits until the first attempt succeeded or failed, at most ``timeout`` s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), timeout)

    async def stop(self) -> None:
        """Stops the task and closes the child (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- views -------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The child's entry in ``GET /health``.

        Returns:
            ``{"state": ..., "restarts": int, "tools": int}`` plus
            ``"error": str`` after a failure.
        """
        entry: dict[str, Any] = {
            "state": self.state.value,
            "restarts": self.restarts,
            "tools": len(self.tools),
        }
        if self.last_error is not None:
            entry["error"] = self.last_error
        return entry

    def client_factory(self) -> Client:
        """A fresh client for one proxied request (FastMCP ``ClientFactoryT``).

        Raises:
            ToolError: The child is not running.
        """
        client = self._client
        if client is None or self.state is not ServerState.RUNNING:
            raise ToolError(f"MCP server {self.name!r} is {self.state.value}")
        fresh = client.new()
        self._issued = [ref for ref in self._issued if ref() is not None]
        self._issued.append(weakref.ref(fresh))
        return fresh

    # -- the background task ----------------------------------------------

    async def _run(self) -> None:
        delays = iter(self._backoff)
        try:
            while True:
                up_since = await self._serve_once()
                if up_since is not None and time.monotonic() - up_since >= self._stable_after:
                    delays = iter(self._backoff)
                delay = next(delays, None)
                if delay is None:
                    self.state = ServerState.FAILED
                    log.error("MCP server %r failed: %s; giving up", self.name, self.last_error)
                    self._settled.set()
                    return
                self.state = ServerState.RESTARTING
                self._settled.set()
                log.warning(
                    "MCP server %r is down (%s); restarting in %.1f s",
                    self.name,
                    self.last_error,
                    delay,
                )
                await asyncio.sleep(delay)
                self.restarts += 1
        finally:
            self._settled.set()

    async def _serve_once(self) -> float | None:
        """One connection: returns when the child is down.

        Returns:
            When the child came up (``time.monotonic()``), or ``None`` if it
            never did.
        """
        client = self._make_client()
        up_since: float | None = None
        try:
            async with contextlib.AsyncExitStack() as stack:
                with anyio.fail_after(self._start_timeout):
                    await stack.enter_async_context(client)
                    tools = await client.list_tools()
                self._client, self.tools, self.state = client, list(tools), ServerState.RUNNING
                self.last_error = None
                up_since = time.monotonic()
                self._settled.set()
                log.info("MCP server %r is running with %d tools", self.name, len(tools))
                await self._changed()
                while True:
                    await asyncio.sleep(self._ping_interval)
                    with anyio.fail_after(self._ping_timeout):
                        await client.ping()
        except Exception as exc:  # noqa: BLE001 - a child's failure is contained here
            self.last_error = _describe(exc)
        finally:
            self._client = None
            had_tools, self.tools = bool(self.tools), []
            await self._close(client)
            if had_tools:
                with anyio.CancelScope(shield=True):
                    await self._changed()
        return up_since

    async def _changed(self) -> None:
        try:
            await self._on_change()
        except Exception:  # noqa: BLE001 - a notification failure must not kill the child
            log.exception("tool list change callback failed")

    async def _close(self, client: Client) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            transport = client.transport
            if isinstance(transport, StdioTransport):
                await transport.close()
            else:
                with contextlib.suppress(Exception):
                    await client.close()

    def _make_client(self) -> ProxyClient:
        spec = self.spec
        if isinstance(spec, StdioServer):
            transport: Any = StdioTransport(
                command=resolve_command(spec.command),
                args=list(spec.args),
                env={**os.environ, **spec.env},
                cwd=str(spec.cwd or self._workspace_dir),
                keep_alive=True,
            )
            # The stdio session is shared by every per-call client, so the
            # handlers baked into it must find the call to relay to.
            relay = self._relay_to_latest_call
            return ProxyClient(
                transport,
                name=f"hub-{self.name}",
                log_handler=relay(fastmcp_proxy.default_proxy_log_handler),
                sampling_handler=relay(fastmcp_proxy.default_proxy_sampling_handler),
                elicitation_handler=relay(fastmcp_proxy.default_proxy_elicitation_handler),
                roots=relay(fastmcp_proxy.default_proxy_roots_handler),
                message_handler=self._on_message,
            )
        assert isinstance(spec, HttpServer)
        transport = StreamableHttpTransport(spec.url, headers=dict(spec.headers))
        return ProxyClient(transport, name=f"hub-{self.name}", message_handler=self._on_message)

    def _relay_to_latest_call(self, handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def relay(*args: Any, **kwargs: Any) -> Any:
            for ref in reversed(self._issued):
                client = ref()
                rc_ref = getattr(client, "_proxy_rc_ref", None)
                if client is not None and client.is_connected() and rc_ref and rc_ref[0]:
                    fastmcp_proxy._restore_request_context(rc_ref)
                    return await handler(*args, **kwargs)
            if handler is fastmcp_proxy.default_proxy_log_handler:
                message = args[0]
                log.info("MCP server %r: %s %s", self.name, message.level, message.data)
                return None
            raise ToolError(f"no call in flight to relay a request of {self.name!r} to")

        return relay

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            asyncio.get_running_loop().create_task(self._refresh_tools())

    async def _refresh_tools(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            with anyio.fail_after(self._ping_timeout):
                async with client.new() as fresh:
                    tools = await fresh.list_tools()
        except Exception as exc:  # noqa: BLE001 - the ping loop notices a dead child
            log.warning("MCP server %r: tools/list failed: %s", self.name, _describe(exc))
            return
        if client is self._client:
            self.tools = list(tools)
            await self._changed()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    group = getattr(exc, "exceptions", None)  # an ExceptionGroup from a task group
    if group:
        return _describe(group[0])
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
