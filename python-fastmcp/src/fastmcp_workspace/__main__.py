"""Command line: ``python -m fastmcp_workspace --dir DIR --port 0``.

Serves the workspace over MCP streamable HTTP on ``--host`` (default
127.0.0.1). Once listening, prints exactly one line on stdout::

    {"event": "ready", "url": "http://127.0.0.1:<port>/mcp"}

Everything else (logs, errors) goes to stderr. A configuration error is one
line on stderr and exit status 2, before any ready line. The process exits
when its stdin reaches end of file (the parent died or closed it) or on
SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
import threading

import uvicorn

from fastmcp_workspace.config import ConfigError, load_config
from fastmcp_workspace.server import build_server

MCP_PATH = "/mcp"
log = logging.getLogger("fastmcp_workspace")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fastmcp_workspace", description="Serve one fastmcp-bridge workspace."
    )
    parser.add_argument("--dir", required=True, help="workspace directory")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 = OS-assigned")
    parser.add_argument(
        "--no-stdin-watch",
        action="store_true",
        help="do not exit when stdin closes (for running by hand)",
    )
    return parser.parse_args(argv)


def _watch_stdin(server: uvicorn.Server, loop: asyncio.AbstractEventLoop) -> None:
    """Asks the server to exit once stdin reaches EOF (parent death)."""
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except (OSError, ValueError):
        pass
    log.info("stdin closed; shutting down")
    loop.call_soon_threadsafe(setattr, server, "should_exit", True)


async def _serve(args: argparse.Namespace) -> int:
    config = load_config(args.dir)
    mcp = build_server(config)
    app = mcp.http_app(path=MCP_PATH)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    if not args.no_stdin_watch:
        threading.Thread(
            target=_watch_stdin,
            args=(server, asyncio.get_running_loop()),
            name="stdin-watch",
            daemon=True,
        ).start()
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            return 1 if serving.exception() else 0
        await asyncio.sleep(0.01)
    ready = {"event": "ready", "url": f"http://{host}:{port}{MCP_PATH}"}
    sys.stdout.write(json.dumps(ready, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    await serving
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs the hub; returns the process exit status."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    args = _parse_args(argv)
    try:
        return asyncio.run(_serve(args))
    except ConfigError as exc:
        sys.stderr.write(f"fastmcp_workspace: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
