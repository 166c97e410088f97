"""The benchmarks' echo server over MCP stdio: ``python bench/echo_server.py --dir DIR``.

Builds the very FastMCP server the workspace hub serves over HTTP
(``fastmcp_workspace.server.build_hub`` on DIR's workspace.json, same tool
modules, same middleware), on the event loop the hub uses (uvloop when
installed), and serves it over stdio instead: newline-delimited JSON-RPC on
stdin and stdout, logs on stderr. It exits when stdin closes. Run with the
hub's interpreter (the project's .venv).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging

from fastmcp_workspace.config import load_config
from fastmcp_workspace.server import build_hub


async def main(directory: str) -> None:
    hub = build_hub(load_config(directory, None))
    await hub.mcp.run_stdio_async(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="workspace directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        uvloop.run(main(args.dir))
    else:
        asyncio.run(main(args.dir))
