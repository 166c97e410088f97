"""Drives the Express MCP endpoint with the official Python ``mcp`` client.

Run by python-client.test.js, which starts the Express app and the lab
workspace: ``python python_client.py URL``. Starts nothing itself, prints one
JSON object on stdout with what each run observed, and leaves the asserting
to the Node test.

Runs, with ``mcp.client.streamable_http.streamable_http_client`` and
``ClientSession``:

- one session per handshake-era revision, 2025-06-18 and 2025-11-25:
  initialize, tools/list, tools/call, progress (``progress_callback``),
  logging (``logging_callback``) and cancellation (a call cancelled once the
  server reported it running). ``ClientSession.initialize()`` always offers
  the client's newest handshake revision (2025-11-25); for 2025-06-18 the
  script sends the same ``initialize`` with that revision through the
  session's public ``send_request``/``adopt``/``send_notification``, as an
  older client would;
- ``mcp.Client(URL)`` in its default ``mode="auto"``, which probes the
  sessionless 2026-07-28 revision with ``server/discover`` and must settle on
  it, and ``mcp.Client(URL, mode="2026-07-28")``, which speaks only that
  revision: tools, the client's identity, progress, logging, sampling
  through ``InputRequiredResult`` rounds, cancellation and
  ``subscriptions/listen`` (MCP 2026-07-28, Basic / Transports / Streamable
  HTTP);
- ``fastmcp.Client(URL)``, which probes ``server/discover`` too.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import anyio
import mcp_types as types
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

#: Bound on each awaited step, seconds; the Node test bounds the whole run too.
STEP_TIMEOUT = 30.0


def _text(result: Any) -> str:
    """The text of a CallToolResult's first content item."""
    if result.is_error:
        raise RuntimeError(f"tool call failed: {result.content}")
    return result.content[0].text


async def _initialize(session: ClientSession, version: str) -> types.InitializeResult:
    """The initialize handshake offering ``version``."""
    if version == "2025-11-25":
        return await session.initialize()
    result = await session.send_request(
        types.InitializeRequest(
            params=types.InitializeRequestParams(
                protocol_version=version,
                capabilities=types.ClientCapabilities(),
                client_info=types.Implementation(name=f"python-client-{version}", version="1.0.0"),
            ),
        ),
        types.InitializeResult,
    )
    session.adopt(result)
    await session.send_notification(types.InitializedNotification())
    return result


async def _progress(target: Any) -> dict[str, Any]:
    """A ``progress`` call of 3 steps on ``target`` (a ``ClientSession`` or a
    ``Client``): its result and the progress reported to ``progress_callback``."""
    progress: list[list[Any]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append([value, total, message])

    result = await target.call_tool("progress", {"steps": 3, "delay": 0.1}, progress_callback=on_progress)
    return {"progressResult": result.structured_content["result"], "progress": progress}


async def _cancel_running_call(session: Any, tag: str) -> dict[str, Any]:
    """Starts a 30 s ``sleep_started`` call on ``session`` (a ``ClientSession``
    or a ``Client``), cancels it once it reports that it runs, then asks the
    server (bounded) whether it saw the cancellation."""
    running = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        running.set()

    outcome: dict[str, Any] = {"completed": False}
    async with anyio.create_task_group() as group:
        scope = anyio.CancelScope()

        async def call() -> None:
            with scope:
                await session.call_tool(
                    "sleep_started", {"seconds": 30, "tag": tag}, progress_callback=on_progress
                )
                outcome["completed"] = True

        group.start_soon(call)
        with anyio.fail_after(STEP_TIMEOUT):
            await running.wait()
        scope.cancel()
    seen = False
    with anyio.move_on_after(STEP_TIMEOUT):
        while not seen:
            result = await session.call_tool("cancelled", {})
            seen = tag in result.structured_content["result"]
            if not seen:
                await anyio.sleep(0.1)
    outcome["serverSawCancellation"] = seen
    return outcome


async def handshake_run(url: str, version: str) -> dict[str, Any]:
    """One session of a handshake-era revision."""
    logs: list[str] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(json.dumps(params.data))

    out: dict[str, Any] = {}
    async with streamable_http_client(url) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=STEP_TIMEOUT, logging_callback=on_log) as session:
            with anyio.fail_after(STEP_TIMEOUT):
                init = await _initialize(session, version)
            out["protocolVersion"] = init.protocol_version
            out["serverName"] = init.server_info.name
            out["sessionProtocolVersion"] = session.protocol_version
            tools = await session.list_tools()
            out["tools"] = sorted(tool.name for tool in tools.tools)
            out["echo"] = _text(await session.call_tool("echo", {"text": f"hello {version}"}))
            out.update(await _progress(session))
            out["logResult"] = _text(await session.call_tool("log", {"message": f"log {version}"}))
            with anyio.move_on_after(STEP_TIMEOUT):
                while not logs:
                    await anyio.sleep(0.05)
            out["logs"] = logs
            out["cancellation"] = await _cancel_running_call(session, f"python-{version}-{time.time_ns()}")
    return out


async def _sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    """Answers sampling with the prompt, marked as sampled."""
    prompt = params.messages[0].content.text
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=f"sampled: {prompt}"), model="test-model"
    )


async def sessionless_run(url: str, mode: str) -> dict[str, Any]:
    """``mcp.Client`` in ``mode`` (``"auto"`` probes ``server/discover``;
    ``"2026-07-28"`` speaks only that revision): tools, progress, logging
    opted in per request, sampling answered through ``InputRequiredResult``
    rounds, the client's identity, and cancellation."""
    logs: list[str] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(json.dumps(params.data))

    out: dict[str, Any] = {}
    async with Client(
        url,
        mode=mode,
        read_timeout_seconds=STEP_TIMEOUT,
        client_info=types.Implementation(name=f"python-{mode}", version="1.0.0"),
        sampling_callback=_sampling,
        logging_callback=on_log,
        log_level="info",
    ) as client:
        out["protocolVersion"] = client.protocol_version
        out["handshake"] = client.session.initialize_result is not None
        out["tools"] = sorted(tool.name for tool in (await client.list_tools()).tools)
        out["echo"] = _text(await client.call_tool("echo", {"text": mode}))
        out["clientName"] = _text(await client.call_tool("client_name", {}))
        out.update(await _progress(client))
        out["sample"] = _text(await client.call_tool("sample", {"prompt": "a haiku"}))
        # The client mirrors the arguments `routed` marks with x-mcp-header in
        # Mcp-Param-* headers, which the endpoint checks.
        out["routed"] = _text(await client.call_tool("routed", {"region": "zürich", "shard": 2, "text": mode}))
        out["logResult"] = _text(await client.call_tool("log", {"message": f"log {mode}"}))
        out["logs"] = logs
        out["cancellation"] = await _cancel_running_call(client, f"python-{mode}-{time.time_ns()}")
        out["listen"] = await _listen(client)
    return out


async def _listen(client: Client) -> dict[str, Any]:
    """``Client.listen``: tool list changes and updates of one resource, then
    an update of a resource it did not subscribe to, which must not come."""
    from mcp.client.subscriptions import ResourceUpdated, ToolsListChanged

    events: list[str] = []
    async with client.listen(tools_list_changed=True, resource_subscriptions=["lab://watched"]) as subscription:
        honored = subscription.honored.model_dump(by_alias=True, exclude_none=True)
        await client.call_tool("resource_updated_soon", {"uri": "lab://other"})
        await client.call_tool("resource_updated_soon", {"uri": "lab://watched"})
        await client.call_tool("list_changed_soon", {})
        with anyio.fail_after(STEP_TIMEOUT):
            async for event in subscription:
                if isinstance(event, ResourceUpdated):
                    events.append(f"updated {event.uri}")
                elif isinstance(event, ToolsListChanged):
                    events.append("tools changed")
                if "tools changed" in events and any(e.startswith("updated") for e in events):
                    break
    return {"honored": honored, "events": sorted(events)}


async def fastmcp_run(url: str) -> dict[str, Any]:
    """FastMCP's ``Client`` in its default mode, which probes ``server/discover``."""
    from fastmcp import Client as FastMCPClient

    async with FastMCPClient(url, timeout=STEP_TIMEOUT) as client:
        result = await client.call_tool("echo", {"text": "fastmcp"})
        return {"protocolVersion": client.protocol_version, "echo": result.content[0].text}


async def main(url: str) -> None:
    report = {
        "handshake": {version: await handshake_run(url, version) for version in ("2025-06-18", "2025-11-25")},
        "auto": await sessionless_run(url, "auto"),
        "modernOnly": await sessionless_run(url, "2026-07-28"),
        "fastmcp": await fastmcp_run(url),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
