"""Reading and checking a workspace's configuration.

The configuration is ``workspace.json`` in the workspace directory, or the
same JSON object passed inline (``--config-json``)::

    {
      "name": "alpha",
      "mcpServers": {
        "time": {"command": "python", "args": ["-m", "mcp_server_time"]},
        "docs": {"url": "http://127.0.0.1:9000/mcp", "headers": {"X-Key": "k"}}
      },
      "tools": ["alpha_tools"],
      "env": {"API_BASE": "http://127.0.0.1:9000"},
      "dereferenceSchemas": true
    }

``mcpServers`` has the shape Claude Desktop uses: a stdio server has
``command`` (required), ``args``, ``env`` and ``cwd``; an HTTP server has
``url`` (required) and ``headers``. Every key is optional at the top level.
``dereferenceSchemas`` (default ``true``) is FastMCP's
``dereference_schemas``: whether tool schemas are listed with their
``$ref``s inlined and ``$defs`` dropped (for clients that do not resolve
references), or as the tools define them (JSON Schema 2020-12 kept whole,
MCP 2025-11-25, SEP-1613).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

__all__ = [
    "ConfigError",
    "HttpServer",
    "ServerSpec",
    "StdioServer",
    "WorkspaceConfig",
    "load_config",
    "parse_config",
]

CONFIG_FILE = "workspace.json"
_KNOWN_KEYS = {"name", "mcpServers", "tools", "env", "dereferenceSchemas"}
_STDIO_KEYS = {"command", "args", "env", "cwd"}
_HTTP_KEYS = {"url", "headers"}
# A server name becomes a tool-name prefix (``<name>_<tool>``), so it is kept
# to characters every MCP client accepts in a tool name.
_SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


class ConfigError(Exception):
    """The workspace directory or its configuration is unusable."""


@dataclass(frozen=True)
class StdioServer:
    """A child MCP server the hub spawns and talks to over stdio.

    Attributes:
        command: The executable. ``"python"`` and ``"python3"`` mean the
            hub's own interpreter (``sys.executable``), so a server installed
            in the hub's venv runs without a PATH lookup.
        args: Its arguments.
        env: Extra environment variables, on top of the hub's environment.
        cwd: Its working directory; relative paths resolve against the
            workspace directory, which is also the default.
    """

    command: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass(frozen=True)
class HttpServer:
    """A running MCP server the hub reaches over streamable HTTP.

    Attributes:
        url: Its MCP endpoint, e.g. ``http://127.0.0.1:9000/mcp``.
        headers: Extra HTTP headers sent with every request.
    """

    url: str
    headers: dict[str, str] = field(default_factory=dict)


ServerSpec = Union[StdioServer, HttpServer]


@dataclass(frozen=True)
class WorkspaceConfig:
    """A workspace's configuration.

    Attributes:
        dir: The workspace directory (absolute).
        name: The MCP server name reported in ``serverInfo``; defaults to the
            directory's name.
        servers: The child MCP servers by name (``mcpServers``), in file
            order; each is mounted under its name as namespace.
        tools: Python module names, imported with the workspace directory on
            ``sys.path``; each must define ``register(mcp)``.
        env: Extra environment variables set before the modules are imported
            and inherited by stdio children.
        dereference_schemas: Whether tool schemas are listed with ``$ref``s
            inlined (``dereferenceSchemas``, default ``True``).
    """

    dir: Path
    name: str
    servers: dict[str, ServerSpec] = field(default_factory=dict)
    tools: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    dereference_schemas: bool = True


def load_config(directory: str | Path, inline: str | None = None) -> WorkspaceConfig:
    """Reads the workspace configuration.

    Args:
        directory: The workspace directory; tool modules and relative ``cwd``
            resolve against it.
        inline: The configuration as a JSON text; when given, the directory
            need not hold a ``workspace.json`` and any it holds is ignored.

    Returns:
        The checked configuration.

    Raises:
        ConfigError: The directory or file is missing, the text is not valid
            JSON, or it has unknown keys or values of the wrong type.
    """
    root = Path(directory).resolve()
    if not root.is_dir():
        raise ConfigError(f"workspace directory not found: {root}")
    if inline is not None:
        source, text = "--config-json", inline
    else:
        path = root / CONFIG_FILE
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{CONFIG_FILE} not found in {root}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON: {exc}") from None
    try:
        return parse_config(raw, root)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def parse_config(raw: Any, directory: Path) -> WorkspaceConfig:
    """Checks a decoded configuration object.

    Args:
        raw: The decoded JSON value.
        directory: The workspace directory (absolute).

    Returns:
        The checked configuration.

    Raises:
        ConfigError: ``raw`` is not an object, has unknown keys, or a value
            of the wrong type.
    """
    if not isinstance(raw, dict):
        raise ConfigError("expected a JSON object")
    _reject_unknown(raw, _KNOWN_KEYS, "")
    name = raw.get("name", directory.name)
    tools = raw.get("tools", [])
    env = raw.get("env", {})
    servers = raw.get("mcpServers", {})
    dereference = raw.get("dereferenceSchemas", True)
    if not isinstance(dereference, bool):
        raise ConfigError("'dereferenceSchemas' must be true or false")
    if not isinstance(name, str):
        raise ConfigError("'name' must be a string")
    if not (isinstance(tools, list) and all(isinstance(t, str) for t in tools)):
        raise ConfigError("'tools' must be a list of module names")
    _check_str_map(env, "'env'")
    if not isinstance(servers, dict):
        raise ConfigError("'mcpServers' must map server names to objects")
    return WorkspaceConfig(
        dir=directory,
        name=name,
        servers={key: _parse_server(key, value, directory) for key, value in servers.items()},
        tools=list(tools),
        env=dict(env),
        dereference_schemas=dereference,
    )


def _parse_server(name: str, raw: Any, directory: Path) -> ServerSpec:
    where = f"mcpServers.{name}"
    if not _SERVER_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: server names are letters, digits and '-' (they prefix tool names)"
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object")
    if "url" in raw:
        _reject_unknown(raw, _HTTP_KEYS, where)
        url, headers = raw["url"], raw.get("headers", {})
        if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise ConfigError(f"{where}: 'url' must be an http:// or https:// URL")
        _check_str_map(headers, f"{where}.headers")
        return HttpServer(url=url, headers=dict(headers))
    _reject_unknown(raw, _STDIO_KEYS, where)
    command = raw.get("command")
    if not (isinstance(command, str) and command):
        raise ConfigError(f"{where}: needs a 'command' (stdio) or a 'url' (HTTP)")
    args = raw.get("args", [])
    if not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
        raise ConfigError(f"{where}.args must be a list of strings")
    env = raw.get("env", {})
    _check_str_map(env, f"{where}.env")
    cwd = raw.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise ConfigError(f"{where}.cwd must be a string")
    return StdioServer(
        command=command,
        args=list(args),
        env=dict(env),
        cwd=(directory / cwd) if cwd is not None else None,
    )


def _reject_unknown(raw: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}unknown keys: {', '.join(unknown)}")


def _check_str_map(value: Any, what: str) -> None:
    if not (
        isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise ConfigError(f"{what} must map names to strings")
