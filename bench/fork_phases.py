"""Where a forked workspace's first call goes (BENCHMARKS.md, "Fork server").

Does what the fork server does before forking (preload, warm-up, freeze),
then forks a hub of ``bench/echo-workspace`` N times, one after another, and
times each phase: in the child, from the fork to the configuration loaded,
to the hub built, to the ready line; in the parent, the fork to the ready
line read, then ``initialize``, ``notifications/initialized`` and the
first and second ``tools/call`` over MCP streamable HTTP (urllib, one
connection per request, as the core's first requests are). Prints the
median of each, in ms.

    .venv/bin/python bench/fork_phases.py [N]   (default 20)
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from fastmcp_workspace import __main__ as hub_main
from fastmcp_workspace import zygote

WORKSPACE = str(Path(__file__).with_name("echo-workspace"))
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def child(report: int) -> None:
    """Runs the hub in the forked child, marking each phase; never returns."""
    start = time.perf_counter()
    marks: dict[str, float] = {}

    def mark(name, function):
        def marked(*args, **kwargs):
            result = function(*args, **kwargs)
            marks[name] = (time.perf_counter() - start) * 1000
            return result

        return marked

    hub_main.load_config = mark("config loaded", hub_main.load_config)
    hub_main.build_hub = mark("hub built", hub_main.build_hub)

    def write(line: str) -> int:
        marks["ready line"] = (time.perf_counter() - start) * 1000
        os.write(report, (json.dumps(marks) + "\n" + line).encode())
        return len(line)

    sys.stdout.write = write
    os._exit(hub_main.main(["--dir", WORKSPACE, "--port", "0", "--no-stdin-watch"]))


def post(url: str, message: dict, headers: dict[str, str]) -> urllib.request.addinfourl:
    request = urllib.request.Request(url, json.dumps(message).encode(), headers, method="POST")
    response = urllib.request.urlopen(request, timeout=30)
    body = response.read()
    if b'"isError":true' in body or b'"error":' in body:
        raise RuntimeError(f"{message.get('method')} failed: {body[:200]!r}")
    return response


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    zygote.preload(zygote.PRELOAD_LIST.read_text().split())
    zygote.warm_up()
    gc.collect()
    gc.freeze()
    phases: dict[str, list[float]] = {}
    for _ in range(rounds):
        read, write = os.pipe()
        forked = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            child(write)
        os.close(write)
        with os.fdopen(read) as lines:
            marks = json.loads(lines.readline())
            url = json.loads(lines.readline())["url"]
        marks["ready line read (parent)"] = (time.perf_counter() - forked) * 1000
        timed = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal timed
            now = time.perf_counter()
            marks[name] = (now - timed) * 1000
            timed = now

        init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}
        response = post(url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}, HEADERS)
        lap("initialize")
        session = {**HEADERS, "mcp-protocol-version": "2025-06-18"}
        if response.headers.get("mcp-session-id"):
            session["mcp-session-id"] = response.headers["mcp-session-id"]
        post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        lap("notifications/initialized")
        call = {"name": "echo", "arguments": {"text": "x"}}
        for name, id_ in (("first tools/call", 2), ("second tools/call", 3)):
            post(url, {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": call}, session)
            lap(name)
        os.kill(pid, 15)
        os.waitpid(pid, 0)
        for name, value in marks.items():
            phases.setdefault(name, []).append(value)
    print(f"| phase (median of {rounds}) | ms |\n| --- | --- |")
    for name, values in phases.items():
        print(f"| {name} | {statistics.median(values):.1f} |")


if __name__ == "__main__":
    main()
