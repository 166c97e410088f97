"""The per-workspace FastMCP hub process supervised by fastmcp-bridge.

One process serves one workspace: the tools of the workspace's own modules
and, mounted under their names, the MCP servers it is configured with, over
MCP streamable HTTP (MCP 2025-06-18, Basic / Transports / Streamable HTTP),
with a ``GET /health`` route and a single ready line on stdout once it
listens.
"""

from fastmcp_workspace.backoff import Backoff
from fastmcp_workspace.config import (
    ConfigError,
    HttpServer,
    ServerSpec,
    StdioServer,
    WorkspaceConfig,
    load_config,
    parse_config,
)
from fastmcp_workspace.server import Hub, build_hub
from fastmcp_workspace.supervisor import ChildServer, ServerState

__all__ = [
    "Backoff",
    "ChildServer",
    "ConfigError",
    "HttpServer",
    "Hub",
    "ServerSpec",
    "ServerState",
    "StdioServer",
    "WorkspaceConfig",
    "build_hub",
    "load_config",
    "parse_config",
]
