"""A bare JSON-RPC echo server speaking just enough MCP streamable HTTP.

The ceiling benchmark's server: uvicorn with uvloop and httptools and a raw
ASGI app, no FastMCP, so that it costs a fraction of FastMCP's CPU per call
and the client's own cost shows. It answers:

- ``initialize``: an ``InitializeResult`` (protocol version ``2025-11-25``,
  ``tools`` capability) and an ``Mcp-Session-Id`` header;
- ``tools/call``: the ``text`` argument echoed as a tool result;
- ``ping`` and other requests: an empty result;
- notifications and responses: ``202 Accepted``;
- ``DELETE``: ``200``.

Every answer is ``application/json``. Like the hub it prints one line,
``{"event":"ready","url":"http://127.0.0.1:<port>/mcp"}``, once it listens,
and exits when its stdin closes. Arguments are ignored (see ``bare-hub``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import uuid

import uvicorn

PROTOCOL_VERSION = "2025-11-25"
SESSION = uuid.uuid4().hex.encode()
JSON_HEADERS = [(b"content-type", b"application/json"), (b"mcp-session-id", SESSION)]


def _result(message: dict) -> dict:
    method = message.get("method")
    params = message.get("params") or {}
    if method == "initialize":
        return {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "bare-echo", "version": "0"},
        }
    if method == "tools/call":
        text = (params.get("arguments") or {}).get("text", "")
        return {
            "content": [{"type": "text", "text": text}],
            "structuredContent": {"result": text},
            "isError": False,
        }
    return {}


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        event = await receive()
        chunks.append(event.get("body", b""))
        if not event.get("more_body"):
            return b"".join(chunks)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            kind = event["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    method = scope["method"]
    if method == "DELETE":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if method != "POST":
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    message = json.loads(await _read_body(receive))
    if "id" not in message or "method" not in message:
        # A notification or a response: accepted, no body.
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = json.dumps(
        {"jsonrpc": "2.0", "id": message["id"], "result": _result(message)},
        separators=(",", ":"),
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


def _watch_stdin(server: uvicorn.Server, loop: asyncio.AbstractEventLoop) -> None:
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except (OSError, ValueError):
        pass
    loop.call_soon_threadsafe(setattr, server, "should_exit", True)


async def _serve() -> None:
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY on accepted sockets only
    # when the listening socket says proto == IPPROTO_TCP (asyncio/base_events.py,
    # _set_nodelay); with proto 0, Nagle delays a response split into writes.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    threading.Thread(
        target=_watch_stdin, args=(server, asyncio.get_running_loop()), daemon=True
    ).start()
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
            return
        await asyncio.sleep(0.01)
    sys.stdout.write(json.dumps({"event": "ready", "url": f"http://{host}:{port}/mcp"}, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    await serving


if __name__ == "__main__":
    import uvloop

    uvloop.run(_serve())
