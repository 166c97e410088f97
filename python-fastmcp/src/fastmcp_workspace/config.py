"""Reading and checking a workspace's ``workspace.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConfigError", "WorkspaceConfig", "load_config"]

CONFIG_FILE = "workspace.json"
_KNOWN_KEYS = {"name", "tools", "env"}


class ConfigError(Exception):
    """The workspace directory or its ``workspace.json`` is unusable."""


@dataclass(frozen=True)
class WorkspaceConfig:
    """A workspace's configuration.

    Attributes:
        dir: The workspace directory (absolute).
        name: The MCP server name reported in ``serverInfo``; defaults to the
            directory's name.
        tools: Python module names, imported with the workspace directory on
            ``sys.path``; each must define ``register(mcp)``.
        env: Extra environment variables set before the modules are imported.
    """

    dir: Path
    name: str
    tools: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def load_config(directory: str | Path) -> WorkspaceConfig:
    """Reads ``<directory>/workspace.json``.

    Args:
        directory: The workspace directory.

    Returns:
        The checked configuration.

    Raises:
        ConfigError: The directory or file is missing, is not valid JSON, or
            has unknown keys or values of the wrong type.
    """
    root = Path(directory).resolve()
    if not root.is_dir():
        raise ConfigError(f"workspace directory not found: {root}")
    path = root / CONFIG_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{CONFIG_FILE} not found in {root}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys: {', '.join(unknown)}")
    name = raw.get("name", root.name)
    tools = raw.get("tools", [])
    env = raw.get("env", {})
    if not isinstance(name, str):
        raise ConfigError(f"{path}: 'name' must be a string")
    if not (isinstance(tools, list) and all(isinstance(t, str) for t in tools)):
        raise ConfigError(f"{path}: 'tools' must be a list of module names")
    if not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
        raise ConfigError(f"{path}: 'env' must map names to strings")
    return WorkspaceConfig(dir=root, name=name, tools=list(tools), env=dict(env))
