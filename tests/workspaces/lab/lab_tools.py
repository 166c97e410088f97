"""Tools for exercising the request path: sleep, progress, size, order, logs.

Module state records what the server observed (call order, cancellations)
so that tests can ask the server itself.
"""

import asyncio

from fastmcp import Context, FastMCP

_order: list[str] = []
_cancelled: list[str] = []


async def _sleep_recording(seconds: float, tag: str) -> str:
    """Sleeps ``seconds``, recording ``tag`` if cancelled; returns ``tag``."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        _cancelled.append(tag)
        raise
    return tag


def register(mcp: FastMCP) -> None:
    """Adds the lab tools."""
    register_client_requests(mcp)

    @mcp.tool
    async def sleep(seconds: float, tag: str = "") -> str:
        """Sleeps, recording ``tag`` if the call is cancelled."""
        return await _sleep_recording(seconds, tag)

    @mcp.tool
    async def sleep_started(seconds: float, tag: str, ctx: Context) -> str:
        """Reports progress 0 of 1 once it runs, then sleeps like ``sleep``.

        The progress tells a client that the call reached the server, so that
        it can cancel a call that surely runs.
        """
        await ctx.report_progress(0, 1, "started")
        return await _sleep_recording(seconds, tag)

    @mcp.tool
    def cancelled() -> list[str]:
        """Tags of the sleep calls that were cancelled."""
        return list(_cancelled)

    @mcp.tool
    def record(tag: str) -> str:
        """Appends ``tag`` to the call order."""
        _order.append(tag)
        return tag

    @mcp.tool
    def order() -> list[str]:
        """The tags recorded so far, in the order the server ran them."""
        return list(_order)

    @mcp.tool
    async def progress(steps: int, delay: float, ctx: Context) -> int:
        """Reports progress 1..steps of steps, ``delay`` seconds apart."""
        for step in range(1, steps + 1):
            await asyncio.sleep(delay)
            await ctx.report_progress(step, steps, f"step {step}")
        return steps

    @mcp.tool
    def large(size: int) -> str:
        """Returns ``size`` characters."""
        return "x" * size

    @mcp.tool
    async def log(message: str, ctx: Context) -> str:
        """Sends ``message`` as an MCP logging notification."""
        await ctx.info(message)
        return message

    @mcp.tool
    def echo(text: str) -> str:
        """Returns the text unchanged."""
        return text


def register_client_requests(mcp: FastMCP) -> None:
    """Adds tools that send requests to the client while they run."""

    @mcp.tool
    async def sample(prompt: str, ctx: Context) -> str:
        """Asks the client to sample a message (sampling/createMessage)."""
        from mcp import types

        result = await ctx.session.create_message(
            [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
            max_tokens=16,
            related_request_id=ctx.request_id,
        )
        return result.content.text

    @mcp.tool
    async def client_name(ctx: Context) -> str:
        """The clientInfo name of the MCP session the call came on."""
        return ctx.session.client_params.client_info.name
