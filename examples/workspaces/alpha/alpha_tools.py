"""Tools of the demo workspace ``alpha``."""

from fastmcp import FastMCP


def register(mcp: FastMCP) -> None:
    """Adds ``echo`` and ``add`` to the workspace server."""

    @mcp.tool
    def echo(text: str) -> str:
        """Returns the text unchanged."""
        return text

    @mcp.tool
    def add(a: float, b: float) -> float:
        """Returns a + b."""
        return a + b
