"""Answering each POSTed request as JSON or as an SSE stream, whichever it needs.

MCP 2025-06-18, Basic / Transports / Streamable HTTP, "Sending Messages to the
Server": a client POSTs a request with ``Accept: application/json,
text/event-stream`` and the server answers either with one JSON object
(``Content-Type: application/json``) or with an SSE stream
(``text/event-stream``) that may carry notifications and requests related to
the request before its response. The MCP SDK's transport picks one mode for
the whole server: SSE for every request (six tasks and two task groups per
answer; an echo call then costs the hub nearly twice the CPU of a JSON
answer), or JSON for every request, which drops progress and logging
notifications (see BENCHMARKS.md, "Workspace hub").

:class:`AdaptiveStreamableHTTPTransport` decides per request: it holds the
response until the first message for the request is known, answers with JSON
when that message is the response itself, and otherwise opens the SSE stream,
sends that message first and streams the rest as they happen, exactly as the
SDK's SSE mode does.

Depends on internals of mcp 2.3.0 (pinned in pyproject.toml and
requirements.lock): the session manager offers no hook for the transport
class, so :func:`use_adaptive_responses` replaces the name
``StreamableHTTPServerTransport`` in ``mcp.server.streamable_http_manager``,
which ``StreamableHTTPSessionManager._admit_session`` looks up for every new
session; and the subclass overrides the private ``_handle_post_request`` and
uses the transport's private helpers and per-request stream registry.
``tests/test_transport.py`` fails if any of them changes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import anyio
import pydantic_core
from mcp.server import streamable_http_manager
from mcp.server.streamable_http import (
    CONTENT_TYPE_SSE,
    MCP_SESSION_ID_HEADER,
    REQUEST_STREAM_BUFFER_SIZE,
    EventMessage,
    StreamableHTTPServerTransport,
    check_accept_headers,
)
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import (
    DEFAULT_NEGOTIATED_VERSION,
    INTERNAL_ERROR,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

__all__ = ["AdaptiveStreamableHTTPTransport", "use_adaptive_responses"]

log = logging.getLogger("fastmcp_workspace.transport")


class AdaptiveStreamableHTTPTransport(StreamableHTTPServerTransport):
    """The SDK's streamable HTTP server transport, answering JSON when it can.

    Constructed like ``mcp.server.streamable_http.StreamableHTTPServerTransport``
    and used with ``is_json_response_enabled=False`` (the SDK's SSE mode, so
    messages related to a request are routed to it, and server requests to
    the client stay allowed). A POSTed JSON-RPC request other than
    ``initialize`` is answered:

    - ``200`` with ``Content-Type: application/json`` and the JSON-RPC response
      as body, when the response is the first message the server emits for the
      request;
    - ``200`` with ``Content-Type: text/event-stream`` otherwise: the stream
      opens when the first related message (``notifications/progress``,
      ``notifications/message``, a server request such as
      ``sampling/createMessage``) is emitted, carries every related message in
      order as it happens and ends after the response. Its headers, keep-alive
      pings (every 15 s) and disconnect handling are the SDK's.

    While the answer is held, a client that disconnects is noticed once the
    response or a related message comes (as in the SDK's JSON mode); the
    request itself runs on either way, as in the SDK's SSE mode, until the
    client cancels it with ``notifications/cancelled``.

    Everything else (``initialize``, notifications and responses from the
    client, malformed or refused requests, GET and DELETE, and every request
    when an event store is configured, which needs the SDK's priming events)
    is handled by the SDK unchanged.
    """

    async def _handle_post_request(
        self, scope: Scope, request: Request, receive: Receive, send: Send
    ) -> None:
        message = await self._plain_request(request)
        if message is None:
            # The SDK re-reads the body from Starlette's cache on `request`.
            await super()._handle_post_request(scope, request, receive, send)
            return
        writer = self._read_stream_writer
        if writer is None:  # connect() has not run: the SDK raises the same
            raise ValueError("No read stream writer available. Ensure connect() is called first.")
        request_id = str(message.id)
        try:
            streams = anyio.create_memory_object_stream[EventMessage](REQUEST_STREAM_BUFFER_SIZE)
            self._request_streams[request_id] = streams
            reader = streams[1]
            protocol_version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER, DEFAULT_NEGOTIATED_VERSION)
            await writer.send(self._create_session_message(message, request, request_id, protocol_version))
            try:
                first = await reader.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                # The session was terminated with the request in flight.
                response = self._create_error_response(
                    "Session terminated before the request completed",
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    INTERNAL_ERROR,
                )
            else:
                if not isinstance(first.message, JSONRPCResponse | JSONRPCError):
                    try:
                        await self._stream(first, reader, scope, receive, send)
                    except Exception:  # the response has started: nothing else to send
                        log.exception("SSE response error")
                    return
                response = self._create_json_response(first.message)
            await self._clean_up_memory_streams(request_id)
            await response(scope, receive, send)
        except Exception as err:
            log.exception("Error handling POST request")
            response = self._create_error_response(
                "Error handling POST request", HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_ERROR
            )
            await response(scope, receive, send)
            await writer.send(Exception(err))
        finally:
            # Idempotent; also on cancellation and after the stream ended.
            await self._clean_up_memory_streams(request_id)

    async def _plain_request(self, request: Request) -> JSONRPCRequest | None:
        """The POSTed request if this class answers it, else None (the SDK does)."""
        if self._event_store is not None or self.is_json_response_enabled:
            return None
        has_json, has_sse = check_accept_headers(request)
        if not (has_json and has_sse) or not self._check_content_type(request):
            return None
        if self.mcp_session_id and self._get_session_id(request) != self.mcp_session_id:
            return None
        try:
            raw = pydantic_core.from_json(await request.body())
            message = jsonrpc_message_adapter.validate_python(raw, by_name=False)
        except (ValueError, ValidationError):
            return None
        if not isinstance(message, JSONRPCRequest) or message.method == "initialize":
            return None
        return message

    async def _stream(
        self,
        first: EventMessage,
        reader: Any,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Answers with an SSE stream: ``first``, then the request's messages up to its response."""

        async def events() -> AsyncIterator[dict[str, Any]]:
            yield self._create_event_data(first)
            async for event_message in reader:
                yield self._create_event_data(event_message)
                if isinstance(event_message.message, JSONRPCResponse | JSONRPCError):
                    break

        headers = {
            "Cache-Control": "no-cache, no-transform",
            "Connection": "keep-alive",
            "Content-Type": CONTENT_TYPE_SSE,
            **({MCP_SESSION_ID_HEADER: self.mcp_session_id} if self.mcp_session_id else {}),
        }
        await EventSourceResponse(content=events(), headers=headers)(scope, receive, send)


def use_adaptive_responses() -> None:
    """Makes every streamable HTTP session created from now on use
    :class:`AdaptiveStreamableHTTPTransport`.

    Process-wide: replaces ``StreamableHTTPServerTransport`` in
    ``mcp.server.streamable_http_manager`` (mcp 2.3.0), the name the SDK's
    session manager constructs each session's transport from. Idempotent.
    """
    streamable_http_manager.StreamableHTTPServerTransport = AdaptiveStreamableHTTPTransport  # type: ignore[misc]
