"""Building the workspace's FastMCP server from its configuration."""

from __future__ import annotations

import importlib
import os
import sys

from fastmcp import FastMCP
from starlette.requests import Request
from starlette.responses import JSONResponse

from fastmcp_workspace.config import ConfigError, WorkspaceConfig

__all__ = ["build_server"]


def build_server(config: WorkspaceConfig) -> FastMCP:
    """Creates the workspace's FastMCP server and registers its tools.

    Sets ``config.env``, puts the workspace directory first on ``sys.path``,
    imports each module of ``config.tools`` and calls its ``register(mcp)``.
    Adds ``GET /health``, answering ``{"status": "ok"}``.

    Args:
        config: The workspace configuration.

    Returns:
        The server, not yet serving.

    Raises:
        ConfigError: A tool module cannot be imported or has no ``register``.
    """
    os.environ.update(config.env)
    mcp = FastMCP(config.name)
    directory = str(config.dir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    for module_name in config.tools:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any import-time failure is a bad workspace
            raise ConfigError(
                f"tool module {module_name!r} failed to import: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        register = getattr(module, "register", None)
        if not callable(register):
            raise ConfigError(f"tool module {module_name!r} defines no register(mcp)")
        register(mcp)

    @mcp.custom_route("/health", methods=["GET"])
    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return mcp
