"""The lab tools as a plain FastMCP server over stdio, for the stdio
transport. Prints a banner line on stdout first, as some servers do."""

import sys

from fastmcp import FastMCP

import lab_tools

if __name__ == "__main__":
    print("lab stdio server starting", flush=True)
    mcp = FastMCP("lab")
    lab_tools.register(mcp)
    mcp.run(transport="stdio", show_banner=False)
    sys.exit(0)
