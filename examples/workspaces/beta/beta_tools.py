"""Tools of the demo workspace ``beta``."""

from fastmcp import FastMCP


def register(mcp: FastMCP) -> None:
    """Adds ``echo`` and ``word_count`` to the workspace server."""

    @mcp.tool
    def echo(text: str) -> str:
        """Returns the text unchanged."""
        return text

    @mcp.tool
    def word_count(text: str) -> int:
        """Counts the whitespace-separated words of the text."""
        return len(text.split())
