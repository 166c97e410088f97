"""The conformance tools as a plain FastMCP server over stdio, for the
conformance suite in front of a stdio workspace."""

import sys

from fastmcp import FastMCP

import conformance_tools

if __name__ == "__main__":
    mcp = FastMCP("conformance", dereference_schemas=False)
    conformance_tools.register(mcp)
    mcp.run(transport="stdio", show_banner=False)
    sys.exit(0)
