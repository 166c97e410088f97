"""A minimal MCP stdio echo server: ``python bench/stdio_echo.py``.

The near-zero-cost backend of the ``peers`` phase: what a proxy in front of
it costs shows, where FastMCP's own milliseconds per call would hide it.
Standard library only, one thread, no asyncio: newline-delimited JSON-RPC
on stdin, answers on stdout (MCP 2025-06-18, Basic / Transports / stdio).

It speaks just enough MCP for every proxy of the bench to initialize and
call ``echo``: ``initialize`` (the client's protocol version if it is one
of ``VERSIONS``, else the newest), ``ping``, ``tools/list`` (one tool,
``echo``), ``tools/call`` of ``echo`` (``{"content": [{"type": "text",
"text": <text>}]}``), and ``resources/list`` / ``prompts/list`` (empty;
mcp-hub asks). Notifications get no answer; an unknown method gets -32601.
It exits when stdin closes.
"""

from __future__ import annotations

import json
import sys

VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
ECHO_TOOL = {
    "name": "echo",
    "description": "Echoes its text.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
}


def answer(message: dict) -> dict | None:
    """The response to one JSON-RPC message, or None for a notification or response."""
    method = message.get("method")
    if method is None or "id" not in message:
        return None
    params = message.get("params") or {}
    if method == "tools/call":
        if params.get("name") != "echo":
            return {"error": {"code": -32602, "message": f"unknown tool {params.get('name')!r}"}}
        text = (params.get("arguments") or {}).get("text", "")
        return {"result": {"content": [{"type": "text", "text": text}], "isError": False}}
    if method == "initialize":
        requested = params.get("protocolVersion")
        return {
            "result": {
                "protocolVersion": requested if requested in VERSIONS else VERSIONS[0],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "stdio-echo", "version": "1.0.0"},
            }
        }
    if method == "ping":
        return {"result": {}}
    if method == "tools/list":
        return {"result": {"tools": [ECHO_TOOL]}}
    if method in ("resources/list", "resources/templates/list", "prompts/list"):
        key = method.split("/")[0] if method != "resources/templates/list" else "resourceTemplates"
        return {"result": {key: []}}
    return {"error": {"code": -32601, "message": f"method not found: {method}"}}


def main() -> None:
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    for line in stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        body = answer(message)
        if body is None:
            continue
        body = {"jsonrpc": "2.0", "id": message["id"], **body}
        stdout.write(json.dumps(body, separators=(",", ":")).encode() + b"\n")
        stdout.flush()


if __name__ == "__main__":
    main()
