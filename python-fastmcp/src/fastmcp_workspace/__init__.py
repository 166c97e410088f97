"""The per-workspace FastMCP hub process supervised by fastmcp-bridge.

One process serves one workspace: the tools named in the workspace's
``workspace.json`` over MCP streamable HTTP (MCP 2025-06-18, Basic /
Transports / Streamable HTTP), with a ``GET /health`` route and a single
ready line on stdout once it listens.
"""

from fastmcp_workspace.config import ConfigError, WorkspaceConfig, load_config
from fastmcp_workspace.server import build_server

__all__ = ["ConfigError", "WorkspaceConfig", "build_server", "load_config"]
