"""The echo tool every transport and every proxy of the benchmarks reaches."""

from fastmcp import FastMCP


def register(mcp: FastMCP) -> None:
    """Adds ``echo`` to the server."""

    @mcp.tool
    def echo(text: str) -> str:
        """Returns the text unchanged."""
        return text
