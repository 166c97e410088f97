"""Command line: ``python -m fastmcp_workspace (--dir DIR | --config-json JSON) (--port 0 | --uds PATH)``.

Without ``--dir`` (a workspace given only inline, e.g. one that aggregates
MCP servers), the hub works in a private directory (mode 0700, under the
system's temporary directory) that it removes on exit: relative ``cwd``
values of its child servers resolve against it.

Serves the workspace hub over MCP streamable HTTP, on TCP at ``--host``
(default 127.0.0.1) or on the Unix socket ``--uds``. Once listening (after
each child server's first start attempt, bounded by ``STARTUP_WAIT_S``),
prints exactly one line on stdout::

    {"event":"ready","url":"http://127.0.0.1:<port>/mcp"}
    {"event":"ready","url":"http://localhost/mcp","uds":"<PATH>"}

Nothing else is ever written to stdout: logs, errors and the stderr of
stdio child servers go to stderr. A configuration error is one line
``fastmcp_workspace: error: ...`` on stderr and exit status 2, before any
ready line; when a tool module fails to import or to register, its
traceback comes before that line. The process shuts down gracefully (children closed, socket file
removed, exit status 0) on SIGTERM, SIGINT or end of file on stdin (the
parent died or closed it).

Serving settings (chosen by measurement, see BENCHMARKS.md), each
overridable by an environment variable:

- ``FASTMCP_WORKSPACE_RESPONSE`` (default ``auto``): how POSTed requests
  are answered (MCP 2025-06-18, Basic / Transports / Streamable HTTP).
  ``auto``: JSON (``application/json``) when the response is the first
  message the request produces, else an SSE stream that carries its
  progress, logging and server requests as they happen, then the response
  (:class:`fastmcp_workspace.transport.AdaptiveStreamableHTTPTransport`).
  ``sse``: always an SSE stream (the MCP SDK's default). ``json``: always
  JSON; mcp 2.3.0 then drops every notification related to a request, so
  progress and logging never reach the caller, and server requests within
  a call fail. Any other value is a configuration error.
- ``FASTMCP_TELEMETRY_MODE`` (FastMCP's own setting; the hub's default is
  ``off``, FastMCP's is ``native``): the hub configures no OpenTelemetry SDK,
  so FastMCP's spans would not be recorded, yet creating them costs about 6%
  of the Python calls per tool call. ``FASTMCP_WORKSPACE_TRACING=1`` (the
  bridge's ``tracing`` option) installs the SDK with an OTLP exporter and
  makes it ``native`` (:mod:`fastmcp_workspace.tracing`).
- ``FASTMCP_WORKSPACE_LOOP`` (default ``uvloop`` when installed, else
  ``asyncio``).
- ``FASTMCP_WORKSPACE_HTTP`` (default ``httptools`` when installed, else
  ``h11``).

Child restarts: ``FASTMCP_WORKSPACE_RESTART_DELAY`` is the first backoff
delay (s, default 0.5, doubling up to 30) and
``FASTMCP_WORKSPACE_RESTART_ATTEMPTS`` how many restarts in a row a child
gets before it is ``failed`` (default 10).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import FrameType
from typing import Any

import fastmcp
import uvicorn

from fastmcp_workspace import tracing
from fastmcp_workspace.backoff import Backoff
from fastmcp_workspace.config import ConfigError, load_config
from fastmcp_workspace.server import build_hub
from fastmcp_workspace.transport import use_adaptive_responses

MCP_PATH = "/mcp"
ENV_PREFIX = "FASTMCP_WORKSPACE_"
RESPONSE_MODES = ("auto", "sse", "json")
"""Values of ``FASTMCP_WORKSPACE_RESPONSE``."""
GRACEFUL_SHUTDOWN_S = 5
"""How long open HTTP connections may delay shutdown (s)."""
log = logging.getLogger("fastmcp_workspace")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fastmcp_workspace", description="Serve one fastmcp-bridge workspace."
    )
    parser.add_argument("--dir", help="workspace directory (default: a private one, with --config-json)")
    parser.add_argument(
        "--config-json",
        metavar="JSON",
        help="the workspace configuration inline, instead of DIR/workspace.json",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--port", type=int, default=0, help="TCP port; 0 = OS-assigned")
    where.add_argument("--uds", metavar="PATH", help="serve on this Unix socket instead of TCP")
    parser.add_argument(
        "--no-stdin-watch",
        action="store_true",
        help="do not exit when stdin closes (for running by hand)",
    )
    args = parser.parse_args(argv)
    if args.dir is None and args.config_json is None:
        parser.error("--dir is required unless --config-json gives the configuration")
    return args


def _setting(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class _HubServer(uvicorn.Server):
    """uvicorn's server, minus re-raising the signal after a graceful shutdown,
    plus an event set once it listens.

    uvicorn re-raises a captured SIGTERM once it has shut down, which would
    kill the process before the socket file is removed; the hub exits with
    status 0 instead.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.listening.set()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def _watch_stdin(server: uvicorn.Server, loop: asyncio.AbstractEventLoop) -> None:
    """Asks the server to exit once stdin reaches EOF (parent death)."""
    # os.read on the descriptor, not sys.stdin: a daemon thread blocked
    # inside a BufferedReader holds its lock and aborts interpreter shutdown.
    try:
        while os.read(0, 65536):
            pass
    except (OSError, ValueError):
        pass
    log.info("stdin closed; shutting down")
    # The parent is gone: nobody waits for a graceful drain, so exit at once.
    loop.call_soon_threadsafe(setattr, server, "force_exit", True)
    loop.call_soon_threadsafe(setattr, server, "should_exit", True)


def _bind(args: argparse.Namespace) -> tuple[socket.socket, dict[str, str]]:
    """Binds the listening socket; returns it and the ready line."""
    if args.uds is None:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets
        # only then; without it Nagle holds each response body until the
        # client's delayed ACK (about 40 ms per call).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        host, port = sock.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        return sock, {"event": "ready", "url": f"http://{host}:{port}{MCP_PATH}"}
    path = Path(args.uds)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise ConfigError(f"--uds {path}: exists and is not a socket")
        path.unlink()  # a stale socket left by a killed hub
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--uds {path}: {exc.strerror or exc}") from None
    return sock, {"event": "ready", "url": f"http://localhost{MCP_PATH}", "uds": str(path)}


async def _serve(args: argparse.Namespace) -> int:
    responses = _setting("RESPONSE", "auto")
    if responses not in RESPONSE_MODES:
        raise ConfigError(f"{ENV_PREFIX}RESPONSE={responses!r}: expected one of {', '.join(RESPONSE_MODES)}")
    private = None
    if args.dir is None:
        private = tempfile.mkdtemp(prefix="fastmcp-workspace-")
        args.dir = private
        args.config_json = _default_name(args.config_json)
    try:
        return await _serve_workspace(args, responses)
    finally:
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)


def _default_name(config_json: str) -> str:
    """The inline configuration, named ``workspace`` unless it names itself
    (the name would otherwise be the private directory's)."""
    try:
        raw = json.loads(config_json)
    except json.JSONDecodeError:
        return config_json  # load_config reports it
    if isinstance(raw, dict) and "name" not in raw:
        raw["name"] = "workspace"
        return json.dumps(raw)
    return config_json


async def _serve_workspace(args: argparse.Namespace, responses: str) -> int:
    config = load_config(args.dir, args.config_json)
    backoff = Backoff(
        initial=float(_setting("RESTART_DELAY", "0.5")),
        max_attempts=int(_setting("RESTART_ATTEMPTS", "10")),
    )
    hub = build_hub(config, backoff=backoff)
    if responses == "auto":
        use_adaptive_responses()
    app = hub.mcp.http_app(path=MCP_PATH, json_response=responses == "json")
    http = _setting("HTTP", "httptools" if _installed("httptools") else "h11")
    sock, ready = _bind(args)
    try:
        server = _HubServer(
            uvicorn.Config(
                app,
                http=http,
                log_level="warning",
                access_log=False,
                # Only the bridge connects, directly: no proxy headers to honour.
                proxy_headers=False,
                lifespan="on",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )
        )
        if not args.no_stdin_watch:
            threading.Thread(
                target=_watch_stdin,
                args=(server, asyncio.get_running_loop()),
                name="stdin-watch",
                daemon=True,
            ).start()
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait((serving, listening), return_when=asyncio.FIRST_COMPLETED)
        if not server.started:
            listening.cancel()
            return 1 if serving.exception() else 0
        sys.stdout.write(json.dumps(ready, separators=(",", ":")) + "\n")
        sys.stdout.flush()
        await serving
        return 0
    finally:
        sock.close()
        if args.uds is not None:
            Path(args.uds).unlink(missing_ok=True)


def _run(main: Coroutine[Any, Any, int]) -> int:
    loop = _setting("LOOP", "uvloop" if _installed("uvloop") else "asyncio")
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def main(argv: list[str] | None = None) -> int:
    """Runs the hub; returns the process exit status (0, or 2 for a bad config)."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    args = _parse_args(argv)
    if "FASTMCP_TELEMETRY_MODE" not in os.environ:
        fastmcp.settings.telemetry_mode = "off"
    # uvicorn's handler only runs once serving started; before that, SIGTERM
    # must still end the process (quietly, as from KeyboardInterrupt).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    shutdown_tracing = None
    try:
        shutdown_tracing = tracing.configure()
        return _run(_serve(args))
    except ConfigError as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"fastmcp_workspace: error: {message}\n")
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        if shutdown_tracing is not None:
            shutdown_tracing()


if __name__ == "__main__":
    sys.exit(main())
