"""Per-request answers: JSON when nothing precedes the response, else SSE.

Real hub processes on loopback, called over plain HTTP (httpx2, whose
``EventSource`` reads the SSE streams) and with FastMCP's client.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
from pathlib import Path

import anyio
import httpx2
import pytest
from conftest import make_workspace
from fastmcp import Client
from mcp.server import streamable_http_manager
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from fastmcp_workspace.transport import AdaptiveStreamableHTTPTransport

pytestmark = pytest.mark.anyio

TOOLS = '''
import os

import anyio
from fastmcp import Context


def register(mcp):
    @mcp.tool
    async def steps(n: int, ctx: Context) -> int:
        for i in range(1, n + 1):
            await ctx.report_progress(i, n, f"step {i}")
        return n

    @mcp.tool
    async def chatty(ctx: Context) -> str:
        await ctx.info("first")
        await ctx.warning("second")
        return "done"

    @mcp.tool
    async def gated(marker: str, ctx: Context) -> str:
        """Reports progress 1/2, then waits (at most 20 s) for `marker` to exist."""
        await ctx.report_progress(1, 2)
        with anyio.move_on_after(20):
            while not os.path.exists(marker):
                await anyio.sleep(0.02)
        await ctx.report_progress(2, 2)
        return "released" if os.path.exists(marker) else "not released"

    @mcp.tool
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("Your name?", response_type=str)
        return f"hello {answer.data}" if answer.action == "accept" else answer.action
'''
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
VERSION = "2025-06-18"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    directory = make_workspace(tmp_path_factory.mktemp("transport"), {})
    (directory / "stream_tools.py").write_text(TOOLS)
    config = json.loads((directory / "workspace.json").read_text())
    config["tools"].append("stream_tools")
    (directory / "workspace.json").write_text(json.dumps(config))
    return directory


@pytest.fixture(scope="module")
def hub_url(workspace):
    from conftest import Hub

    hub = Hub(workspace, "--port", "0")
    try:
        yield hub.ready()["url"]
    finally:
        hub.stop()


class Session:
    """One MCP session over plain HTTP POSTs."""

    def __init__(self, client: httpx2.AsyncClient, url: str) -> None:
        self.client, self.url, self.headers, self.next_id = client, url, dict(HEADERS), 1

    async def open(self) -> None:
        init = {
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": VERSION, "capabilities": {},
                       "clientInfo": {"name": "pytest", "version": "0"}},
        }
        response = await self.client.post(self.url, json=init, headers=self.headers)
        assert response.status_code == 200
        self.headers |= {"Mcp-Session-Id": response.headers["mcp-session-id"], "MCP-Protocol-Version": VERSION}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await self.client.post(self.url, json=initialized, headers=self.headers)).status_code == 202

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        return {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}


async def call(session: Session, tool: str, arguments: dict, progress_token: str | None = None):
    """POSTs tools/call; returns the Content-Type and the JSON-RPC messages of the answer, in order."""
    params: dict = {"name": tool, "arguments": arguments}
    if progress_token is not None:
        params["_meta"] = {"progressToken": progress_token}
    message = session.request("tools/call", params)
    async with session.client.stream("POST", session.url, json=message, headers=session.headers) as response:
        assert response.status_code == 200
        content_type = response.headers["content-type"].split(";")[0]
        if content_type == "application/json":
            return content_type, [json.loads(await response.aread())]
        return content_type, [sse.json() async for sse in httpx2.EventSource(response)]


async def test_a_call_that_reports_nothing_is_answered_with_json(hub_url):
    async with httpx2.AsyncClient(timeout=20) as client:
        session = Session(client, hub_url)
        await session.open()
        content_type, messages = await call(session, "echo", {"text": "hi"})
        assert content_type == "application/json"
        assert [m["result"]["content"][0]["text"] for m in messages] == ["hi"]
        # Without a progressToken the tool's progress reports go nowhere, so JSON too.
        content_type, messages = await call(session, "steps", {"n": 3})
        assert content_type == "application/json"
        assert messages[0]["result"]["structuredContent"] == {"result": 3}
        # A JSON-RPC error answer is JSON as well.
        content_type, messages = await call(session, "no_such_tool", {})
        assert content_type == "application/json"
        assert "error" in messages[0] or messages[0]["result"]["isError"] is True


async def test_a_call_with_progress_is_answered_with_sse_progress_first_in_order(hub_url):
    async with httpx2.AsyncClient(timeout=20) as client:
        session = Session(client, hub_url)
        await session.open()
        content_type, messages = await call(session, "steps", {"n": 3}, progress_token="p-1")
    assert content_type == "text/event-stream"
    *progress, result = messages
    assert [m["method"] for m in progress] == ["notifications/progress"] * 3
    assert [(m["params"]["progressToken"], m["params"]["progress"], m["params"]["total"],
             m["params"]["message"]) for m in progress] == [
        ("p-1", 1, 3, "step 1"), ("p-1", 2, 3, "step 2"), ("p-1", 3, 3, "step 3")]
    assert result["id"] == session.next_id and result["result"]["structuredContent"] == {"result": 3}


async def test_progress_reaches_the_caller_while_the_tool_still_runs(hub_url, tmp_path: Path):
    marker = tmp_path / "release"
    seen: list[dict] = []
    async with httpx2.AsyncClient(timeout=30) as client:
        session = Session(client, hub_url)
        await session.open()
        params = {"name": "gated", "arguments": {"marker": str(marker)}, "_meta": {"progressToken": 7}}
        message = session.request("tools/call", params)
        with anyio.fail_after(30):
            async with client.stream("POST", hub_url, json=message, headers=session.headers) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                async for sse in httpx2.EventSource(response):
                    seen.append(sse.json())
                    if len(seen) == 1:
                        # The tool is blocked until this file exists: the first
                        # progress notification was sent before the result existed.
                        assert seen[0]["params"]["progress"] == 1
                        marker.touch()
    assert [m.get("method") for m in seen] == ["notifications/progress", "notifications/progress", None]
    assert seen[-1]["result"]["structuredContent"] == {"result": "released"}


async def test_logging_notifications_of_a_tool_reach_the_caller(hub_url):
    async with httpx2.AsyncClient(timeout=20) as client:
        session = Session(client, hub_url)
        await session.open()
        content_type, messages = await call(session, "chatty", {})
    assert content_type == "text/event-stream"
    *logs, result = messages
    assert [(m["method"], m["params"]["level"], m["params"]["data"]["msg"]) for m in logs] == [
        ("notifications/message", "info", "first"),
        ("notifications/message", "warning", "second"),
    ]
    assert result["result"]["structuredContent"] == {"result": "done"}


async def test_logging_and_server_requests_reach_an_mcp_client(hub_url):
    logs: list[str] = []
    questions: list[str] = []

    async def on_log(message) -> None:
        logs.append(message.data["msg"])

    async def on_elicit(message, _response_type, _params, _context):
        questions.append(message)
        return "Ada"

    async with Client(hub_url, mode="legacy", timeout=20, log_handler=on_log,
                      elicitation_handler=on_elicit) as client:
        assert (await client.call_tool("chatty", {})).data == "done"
        assert (await client.call_tool("ask", {})).data == "hello Ada"
        assert (await client.call_tool("echo", {"text": "after"})).data == "after"
    assert logs == ["first", "second"]
    assert questions == ["Your name?"]


@pytest.mark.parametrize(("mode", "expected"), [("sse", "text/event-stream"), ("json", "application/json")])
async def test_the_response_mode_can_be_fixed(hub_factory, workspace, mode, expected):
    url = hub_factory(workspace, "--port", "0", env={"FASTMCP_WORKSPACE_RESPONSE": mode}).ready()["url"]
    async with httpx2.AsyncClient(timeout=20) as client:
        session = Session(client, url)
        await session.open()
        content_type, messages = await call(session, "echo", {"text": "hi"})
    assert content_type == expected
    assert messages[-1]["result"]["content"][0]["text"] == "hi"


def test_an_unknown_response_mode_is_a_configuration_error(hub_factory, workspace):
    hub = hub_factory(workspace, "--port", "0", env={"FASTMCP_WORKSPACE_RESPONSE": "fast"})
    assert hub.process.wait(timeout=30) == 2
    assert hub.process.stdout.read() == ""
    errors = hub.process.stderr.read().strip().splitlines()
    assert len(errors) == 1 and "FASTMCP_WORKSPACE_RESPONSE" in errors[0]


def test_the_sdk_internals_the_adaptive_transport_relies_on_are_unchanged():
    """If this fails, re-read transport.py against the new mcp release."""
    assert importlib.metadata.version("mcp") == "2.3.0"
    # The session manager builds each session's transport from this module global.
    assert "StreamableHTTPServerTransport" in StreamableHTTPSessionManager._admit_session.__code__.co_names
    assert streamable_http_manager.StreamableHTTPServerTransport in (
        StreamableHTTPServerTransport, AdaptiveStreamableHTTPTransport)
    # The overridden method keeps its signature and is what POSTs go to.
    parameters = list(inspect.signature(StreamableHTTPServerTransport._handle_post_request).parameters)
    assert parameters == ["self", "scope", "request", "receive", "send"]
    assert "_handle_post_request" in StreamableHTTPServerTransport._handle_request.__code__.co_names
    # The private helpers and state it uses.
    for name in ("_create_session_message", "_clean_up_memory_streams", "_create_json_response",
                 "_create_error_response", "_create_event_data", "_check_content_type", "_get_session_id"):
        assert callable(getattr(StreamableHTTPServerTransport, name)), name
    transport = StreamableHTTPServerTransport("abc")
    assert transport._request_streams == {} and transport._event_store is None
    assert transport._read_stream_writer is None and transport.is_json_response_enabled is False
