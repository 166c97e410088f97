"""``fastmcp_workspace.tracing``: the SDK installed only when asked for, and
FastMCP's telemetry mode that goes with it.

Each case runs in an interpreter of its own, since OpenTelemetry's tracer
provider can be set once per process. The end-to-end export (a tool's span,
a child of the bridge's, received over OTLP) is tested from Node, in
tests/tracing.test.js.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os, fastmcp
from opentelemetry import trace
from fastmcp_workspace import tracing
if "FASTMCP_TELEMETRY_MODE" not in os.environ:
    fastmcp.settings.telemetry_mode = "off"  # as the hub's main() does
shutdown = tracing.configure()
provider = trace.get_tracer_provider()
resource = getattr(provider, "resource", None)
print(json.dumps({
    "configured": shutdown is not None,
    "mode": fastmcp.settings.telemetry_mode,
    "provider": type(provider).__module__,
    "service": resource.attributes.get("service.name") if resource else None,
    "workspace": resource.attributes.get("fastmcp_bridge.workspace.id") if resource else None,
    "environment": resource.attributes.get("deployment.environment") if resource else None,
}))
if shutdown:
    shutdown()
"""


def probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FASTMCP_"))}
    # An endpoint nobody listens on: nothing is exported by this probe.
    clean["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_the_variable_nothing_is_installed():
    seen = probe()
    assert seen["configured"] is False
    assert seen["mode"] == "off"
    assert not seen["provider"].startswith("opentelemetry.sdk")


@pytest.mark.parametrize("value", ["1", "true", "TRUE"])
def test_the_variable_installs_the_sdk_and_turns_fastmcp_telemetry_on(value):
    seen = probe(FASTMCP_WORKSPACE_TRACING=value)
    assert seen == {
        "configured": True,
        "mode": "native",
        "provider": "opentelemetry.sdk.trace",
        "service": "fastmcp-workspace",
        "workspace": None,
        "environment": None,
    }


def test_the_service_is_the_workspace_s_not_the_app_s_and_the_mode_stays_when_set():
    seen = probe(
        FASTMCP_WORKSPACE_TRACING="1",
        FASTMCP_WORKSPACE_ID="billing",
        OTEL_RESOURCE_ATTRIBUTES="service.name=the-app,deployment.environment=test",
        FASTMCP_TELEMETRY_MODE="propagation_only",
    )
    assert seen["service"] == "fastmcp-workspace"
    assert seen["workspace"] == "billing"
    assert seen["environment"] == "test"
    assert seen["mode"] == "propagation_only"
    assert probe(FASTMCP_WORKSPACE_TRACING="1", OTEL_SERVICE_NAME="billing-hub")["service"] == "billing-hub"


def test_without_the_sdk_the_hub_serves_untraced(tmp_path):
    # A module that fails to import in place of the SDK's package.
    (tmp_path / "opentelemetry").mkdir()
    (tmp_path / "opentelemetry" / "sdk").mkdir()
    (tmp_path / "opentelemetry" / "sdk" / "__init__.py").write_text("raise ImportError('not installed here')\n")
    seen = probe(FASTMCP_WORKSPACE_TRACING="1", PYTHONPATH=str(tmp_path))
    assert seen["configured"] is False
    assert seen["mode"] == "off"


@pytest.mark.parametrize("value", ["0", "", "no"])
def test_other_values_do_not_ask(value):
    assert probe(FASTMCP_WORKSPACE_TRACING=value)["configured"] is False
