"""Echo-call throughput: the workspace hub against FastMCP with default settings.

Command (from the repository root, with the hub's venv)::

    .venv/bin/python bench/hub_echo.py --rounds 3 --seconds 5 --concurrency 8
    .venv/bin/python bench/hub_echo.py --rounds 3 --progress   # calls that report progress

Each configuration is a real server process on 127.0.0.1 serving the same
``echo`` tool; rounds are interleaved (A, B, C, A, B, C, ...). One client,
the same for every configuration, opens one MCP session (``initialize``,
``notifications/initialized``) and keeps ``--concurrency`` plain HTTP POSTs
of ``tools/call echo`` in flight for ``--seconds`` s, reading JSON or SSE
answers alike. Reported per configuration: the media types the answers came
in, median calls/s and median server CPU per call (ms, from /proc), the
throughput ratio to the baseline, and every round's calls/s.
Every wait is bounded; nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx2 as httpx

BASELINE = textwrap.dedent(
    """
    import sys
    from fastmcp import FastMCP
    from bench_tools import register  # the hub's tool module, beside this script
    mcp = FastMCP("baseline")
    register(mcp)
    mcp.run(transport="http", host="127.0.0.1", port=int(sys.argv[1]), show_banner=False)
    """
)
TOOLS = textwrap.dedent(
    """
    from fastmcp import Context

    def register(mcp):
        @mcp.tool
        def echo(text: str) -> str:
            return text

        @mcp.tool
        async def echo_progress(text: str, ctx: Context) -> str:
            await ctx.report_progress(1, 1)
            return text
    """
)
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name: str, work: Path) -> tuple[subprocess.Popen, str]:
    """Starts one configuration; returns the process and its MCP URL."""
    if name == "fastmcp-default":
        port = free_port()
        script = work / "baseline.py"
        script.write_text(BASELINE)
        (work / "bench_tools.py").write_text(TOOLS)
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(url, content=b"{}", headers=HEADERS, timeout=1)
                return proc, url
            except httpx.TransportError:
                time.sleep(0.1)
        proc.kill()
        raise RuntimeError("baseline did not start within 30 s")
    workspace = work / "ws"
    workspace.mkdir(exist_ok=True)
    (workspace / "bench_tools.py").write_text(TOOLS)
    (workspace / "workspace.json").write_text(json.dumps({"tools": ["bench_tools"]}))
    env = {**os.environ, **HUB_CONFIGS[name]}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastmcp_workspace", "--dir", str(workspace), "--port", "0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )
    line = proc.stdout.readline()  # the hub prints it within its start timeout or exits
    if not line:
        raise RuntimeError(f"{name} exited before its ready line")
    return proc, json.loads(line)["url"]


HUB_CONFIGS = {
    # What the hub ships with (see python-fastmcp/src/fastmcp_workspace/__main__.py):
    # per-request JSON or SSE, uvloop, httptools.
    "hub": {},
    "hub-sse": {"FASTMCP_WORKSPACE_RESPONSE": "sse"},
    "hub-json": {"FASTMCP_WORKSPACE_RESPONSE": "json"},
    "hub-asyncio-h11": {"FASTMCP_WORKSPACE_LOOP": "asyncio", "FASTMCP_WORKSPACE_HTTP": "h11"},
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse(response: httpx.Response) -> dict:
    if response.headers["content-type"].startswith("application/json"):
        return response.json()
    for line in response.text.splitlines():
        if line.startswith("data: ") and "id" in (message := json.loads(line[6:])):
            return message
    raise RuntimeError(f"no answer in {response.text[:200]!r}")


async def run_load(url: str, seconds: float, concurrency: int, progress: bool = False) -> tuple[int, set[str]]:
    """Runs the load; returns the calls answered and the answers' media types.

    With ``progress`` the calls go to ``echo_progress`` with a progressToken, so
    each answer carries one progress notification before the result.
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        init = {
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "bench", "version": "0"}},
        }
        response = await client.post(url, json=init, headers=HEADERS)
        parse(response)
        headers = {**HEADERS, "Mcp-Session-Id": response.headers["mcp-session-id"],
                   "MCP-Protocol-Version": "2025-06-18"}
        await client.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
        done = 0
        kinds: set[str] = set()
        deadline = time.monotonic() + seconds

        async def worker(offset: int) -> None:
            nonlocal done
            n = offset
            while time.monotonic() < deadline:
                n += concurrency
                params = {"name": "echo", "arguments": {"text": "hello"}}
                if progress:
                    params = {"name": "echo_progress", "arguments": {"text": "hello"}, "_meta": {"progressToken": n}}
                call = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params}
                response = await client.post(url, json=call, headers=headers)
                kinds.add(response.headers["content-type"].split(";")[0])
                answer = parse(response)
                assert answer["result"]["content"][0]["text"] == "hello", answer
                done += 1

        await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(concurrency))), seconds + 30)
        return done, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--configs", default="fastmcp-default,hub,hub-sse,hub-json,hub-asyncio-h11")
    parser.add_argument("--progress", action="store_true",
                        help="call echo_progress, which reports progress once before its result")
    args = parser.parse_args()
    names = args.configs.split(",")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    kinds: dict[str, set[str]] = {name: set() for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(1, args.rounds + 1):
            for name in names:
                work = Path(tmp) / f"{name}-{round_no}"
                work.mkdir()
                proc, url = start(name, work)
                try:
                    asyncio.run(run_load(url, 1.0, args.concurrency, args.progress))  # warm-up
                    cpu0 = cpu_seconds(proc.pid)
                    t0 = time.monotonic()
                    calls, seen = asyncio.run(run_load(url, args.seconds, args.concurrency, args.progress))
                    kinds[name] |= seen
                    elapsed = time.monotonic() - t0
                    cpu_ms = (cpu_seconds(proc.pid) - cpu0) * 1000 / calls
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                results[name].append((calls / elapsed, cpu_ms))
                print(f"round {round_no} {name:18} {calls / elapsed:8.1f} calls/s  {cpu_ms:5.2f} ms CPU/call",
                      file=sys.stderr, flush=True)
    base = statistics.median(r[0] for r in results[names[0]])
    print(f"\n| configuration | answers | calls/s (median of {args.rounds}) | server CPU ms/call | vs {names[0]} |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name in names:
        rate = statistics.median(r[0] for r in results[name])
        cpu = statistics.median(r[1] for r in results[name])
        answers = " + ".join(sorted(kinds[name]))
        print(f"| {name} | {answers} | {rate:.0f} | {cpu:.2f} | {rate / base:.2f}x |")
    for name in names:
        print(f"{name}: " + ", ".join(f"{r[0]:.0f}" for r in results[name]) + " calls/s")


if __name__ == "__main__":
    main()
