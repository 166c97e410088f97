"""Tools for exercising the request path: sleep, progress, size, order, logs,
and the MCP session: messages the server sends outside any call, sessions
it ends.

Module state records what the server observed (call order, cancellations,
sampling answers) so that tests can ask the server itself.
"""

import asyncio
from typing import Annotated, Any

from fastmcp import Context, FastMCP
from opentelemetry import trace
from pydantic import Field

_order: list[str] = []
_cancelled: list[str] = []
_sampled: list[str] = []
_background: set[asyncio.Task[Any]] = set()


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
    register_session_tools(mcp)
    register_subscriptions(mcp)
    register_listen(mcp)

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
    async def log(message: str, ctx: Context, level: str = "info") -> str:
        """Sends ``message`` as an MCP logging notification at ``level``
        (dropped below the session's ``logging/setLevel``)."""
        await ctx.log(message, level=level)
        return message

    @mcp.tool
    def echo(text: str) -> str:
        """Returns the text unchanged."""
        return text

    @mcp.tool
    def trace_context(ctx: Context) -> dict[str, Any]:
        """The request's ``params._meta`` (``meta``, W3C Trace Context keys
        and any other), and the OpenTelemetry span the tool runs in
        (``traceId``, ``spanId`` in hex; null without a valid span)."""
        meta = ctx.request_context.meta if ctx.request_context is not None else None
        fields = meta if isinstance(meta, dict) else meta.model_dump(exclude_none=True) if meta is not None else {}
        span = trace.get_current_span().get_span_context()
        return {
            "meta": dict(fields),
            "traceId": format(span.trace_id, "032x") if span.is_valid else None,
            "spanId": format(span.span_id, "016x") if span.is_valid else None,
        }

    @mcp.tool
    def routed(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
        shard: Annotated[int, Field(json_schema_extra={"x-mcp-header": "Shard"})] = 0,
        text: str = "",
    ) -> str:
        """Returns its arguments; ``region`` and ``shard`` are mirrored in
        ``Mcp-Param-Region`` / ``Mcp-Param-Shard`` headers by clients of the
        sessionless revision (MCP 2026-07-28, Basic / Transports, Streamable
        HTTP), which the server checks against the arguments."""
        return f"{region}/{shard}/{text}"


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

    @mcp.tool
    async def confirm(question: str, ctx: Context) -> Any:
        """Asks the client to confirm ``question`` the sessionless way (MCP
        2026-07-28 multi round-trip): the first round returns an
        ``InputRequiredResult`` with an ``elicitation/create`` request, the
        retry with the answer returns ``"<state>:<action>:<content>"``."""
        import json

        import mcp_types

        answers = ctx.input_responses
        if not answers:
            ask = mcp_types.ElicitRequest(
                params=mcp_types.ElicitRequestFormParams(
                    message=question,
                    requested_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}},
                )
            )
            return mcp_types.InputRequiredResult(input_requests={"ask": ask}, request_state=question)
        answer = answers["ask"]
        return f"{ctx.request_state}:{answer.action}:{json.dumps(answer.content, sort_keys=True)}"

    @mcp.tool
    async def ask_forever(ctx: Context) -> Any:
        """Returns an ``InputRequiredResult`` on every round, counting the
        rounds in its ``requestState``: a server that never finishes asking."""
        import mcp_types

        rounds = int(ctx.request_state or "0") + 1
        ask = mcp_types.ListRootsRequest()
        return mcp_types.InputRequiredResult(input_requests={"roots": ask}, request_state=str(rounds))


def _in_background(work: Any) -> None:
    """Runs the coroutine ``work`` after the current call, keeping a reference."""
    task = asyncio.get_running_loop().create_task(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


def _session_manager() -> Any:
    """The streamable HTTP session manager serving the current request.

    Reached through the Starlette app's MCP route; ``_server_instances``
    (session id -> transport) is the MCP SDK's private table, which FastMCP
    itself walks to end sessions on shutdown.
    """
    from fastmcp.server.dependencies import get_http_request

    for route in get_http_request().app.routes:
        manager = getattr(getattr(route, "endpoint", None), "session_manager", None)
        if manager is not None:
            return manager
    raise RuntimeError("no streamable HTTP session manager")


def register_session_tools(mcp: FastMCP) -> None:
    """Adds tools about MCP sessions (streamable HTTP only)."""

    @mcp.tool
    def session_id(ctx: Context) -> str:
        """The MCP session id the call came on."""
        return ctx.session_id

    @mcp.tool
    def sessions() -> list[str]:
        """The ids of the MCP sessions the server holds, but those ended
        (by DELETE or ``end_other_sessions``) and not yet forgotten."""
        instances = _session_manager()._server_instances
        return sorted(sid for sid, transport in instances.items() if not transport.is_terminated)

    @mcp.tool
    async def end_other_sessions(ctx: Context) -> int:
        """Ends every MCP session but the caller's, as the server does when
        it expires a session: later requests with their ids get HTTP 404.
        Returns how many were ended."""
        transports = [
            t for sid, t in list(_session_manager()._server_instances.items()) if sid != ctx.session_id
        ]
        for transport in transports:
            await transport.terminate()
        return len(transports)

    @mcp.tool
    async def list_changed_soon(ctx: Context) -> str:
        """Sends ``notifications/tools/list_changed`` on the session's GET
        stream from a background task, after the call."""
        session = ctx.session
        _in_background(session.send_tool_list_changed())
        return "scheduled"

    @mcp.tool
    async def resource_updated_soon(uri: str, ctx: Context) -> str:
        """Sends ``notifications/resources/updated`` for ``uri`` on the
        session's GET stream from a background task, after the call."""
        _in_background(ctx.session.send_resource_updated(uri))
        return "scheduled"

    @mcp.tool
    async def sample_soon(prompt: str, ctx: Context) -> str:
        """Sends ``sampling/createMessage`` on the session's GET stream from a
        background task, after the call (no related request); the answer's
        text, or ``error: <message>`` for an error answer, is kept for
        ``sampled``."""
        from mcp import types
        from mcp.shared.exceptions import MCPError

        session = ctx.session

        async def sample() -> None:
            try:
                result = await session.create_message(
                    [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
                    max_tokens=16,
                )
            except MCPError as e:
                _sampled.append(f"error: {e.error.message}")
                return
            _sampled.append(result.content.text)

        _in_background(sample())
        return "scheduled"

    @mcp.tool
    def sampled() -> list[str]:
        """The answers to ``sample_soon``'s requests so far (texts, or ``error: ...``)."""
        return list(_sampled)


def _connection_subscriptions(session: Any) -> set[str]:
    """The URIs subscribed on the MCP connection (session) of ``session``:
    one per MCP session over streamable HTTP, one per process over stdio."""
    return session._connection.state.setdefault("lab_subscriptions", set())


def register_subscriptions(mcp: FastMCP) -> None:
    """Serves ``resources/subscribe`` and ``resources/unsubscribe`` (FastMCP
    serves neither; the low-level server does once it has handlers), keeping
    the subscriptions per MCP session, and a tool that lists them."""
    from mcp import types

    async def subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        _connection_subscriptions(ctx.session).add(params.uri)
        return types.EmptyResult()

    async def unsubscribe(ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        _connection_subscriptions(ctx.session).discard(params.uri)
        return types.EmptyResult()

    mcp._mcp_server.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    mcp._mcp_server.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)

    @mcp.tool
    def subscriptions(ctx: Context) -> list[str]:
        """The URIs this MCP session is subscribed to, sorted."""
        return sorted(_connection_subscriptions(ctx.request_context.session))


def register_listen(mcp: FastMCP) -> None:
    """Serves ``subscriptions/listen`` of the sessionless revision (MCP
    2026-07-28, which FastMCP leaves out) with the MCP SDK's handler over an
    in-process bus, and a tool that publishes on it."""
    from mcp import types
    from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
    from mcp.shared.subscriptions import ResourceUpdated, ToolsListChanged

    bus = InMemorySubscriptionBus()
    mcp._mcp_server.add_request_handler(
        "subscriptions/listen", types.SubscriptionsListenRequestParams, ListenHandler(bus)
    )

    @mcp.tool
    async def publish(tools_changed: bool = False, updated: str = "") -> str:
        """Publishes to the ``subscriptions/listen`` streams: a tool list
        change, and an update of the resource ``updated`` when given."""
        if tools_changed:
            await bus.publish(ToolsListChanged())
        if updated:
            await bus.publish(ResourceUpdated(uri=updated))
        return "published"
