"""OpenTelemetry traces of the hub, on when the bridge asks for them.

The bridge's ``tracing`` option gives the hub's process
``FASTMCP_WORKSPACE_TRACING=1``, ``FASTMCP_WORKSPACE_ID`` and the bridge's
``OTEL_*`` environment variables that configure the export (credentials
such as ``OTEL_EXPORTER_OTLP_HEADERS`` only when the workspace's ``env`` or
``inheritEnv`` passes them). :func:`configure` then installs the OpenTelemetry SDK's
``TracerProvider`` with a ``BatchSpanProcessor`` and the OTLP/HTTP
(protobuf) span exporter, all configured by the standard variables
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``;
OpenTelemetry specification, SDK Environment Variables), and turns
FastMCP's own telemetry to ``native`` unless ``FASTMCP_TELEMETRY_MODE``
says otherwise.

FastMCP then opens a SERVER span per request whose parent is the W3C Trace
Context the bridge put in the request's ``params._meta`` (``traceparent``,
``tracestate``; MCP 2026-07-28, SEP-414), so a tool's span is a child of
the bridge's span for the call. FastMCP's client injects the context in
turn into the requests the hub sends to its aggregated MCP servers.

The SDK and exporter are imported only here, and only when asked for:
without tracing the hub pays nothing for them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import fastmcp

ENV = "FASTMCP_WORKSPACE_TRACING"
"""The variable that asks for traces (``1`` or ``true``)."""
WORKSPACE_ID_ENV = "FASTMCP_WORKSPACE_ID"
"""The workspace's id, which the bridge sets with ``ENV``."""
DEFAULT_SERVICE_NAME = "fastmcp-workspace"
"""``service.name`` unless ``OTEL_SERVICE_NAME`` is set."""
SHUTDOWN_TIMEOUT_S = 2.0
"""How long a stopping hub waits for its last spans to be exported (s)."""
EXPORT_PROTOCOL = "http/protobuf"
"""The one OTLP protocol the hub's exporter speaks."""
log = logging.getLogger("fastmcp_workspace.tracing")


def requested() -> bool:
    """Whether this process's environment asks for traces."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true")


def configure() -> Callable[[], None] | None:
    """Installs the SDK when :func:`requested`; returns its shutdown.

    The resource's ``service.name`` is ``OTEL_SERVICE_NAME`` or
    ``fastmcp-workspace`` (whatever ``OTEL_RESOURCE_ATTRIBUTES`` says: the
    bridge passes the app's on, and its service is not the hub's), and
    ``fastmcp_bridge.workspace.id`` names the workspace.

    The shutdown exports the spans still batched, waiting at most
    ``SHUTDOWN_TIMEOUT_S`` (an unreachable collector must not hold a
    stopping workspace up to its kill). The hub calls it when it stops: a
    forked hub ends with ``os._exit``, which runs no ``atexit`` hook, so the
    SDK's own would not. Returns ``None`` when traces are not requested,
    leaving FastMCP's telemetry mode as it is, or when the SDK is not
    installed (logged as an error; the hub serves untraced).
    """
    if not requested():
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.error(
            "tracing: the OpenTelemetry SDK is not installed (%s); serving untraced. "
            "Install the hub with its tracing extra: pip install 'fastmcp-workspace[tracing]'",
            exc,
        )
        return None

    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = os.environ.get(name)
        if protocol:
            if protocol != EXPORT_PROTOCOL:
                log.warning("tracing: %s=%s is not supported; exporting with %s", name, protocol, EXPORT_PROTOCOL)
            break
    attributes = {"service.name": os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME}
    if os.environ.get(WORKSPACE_ID_ENV):
        attributes["fastmcp_bridge.workspace.id"] = os.environ[WORKSPACE_ID_ENV]
    provider = TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    if "FASTMCP_TELEMETRY_MODE" not in os.environ:
        fastmcp.settings.telemetry_mode = "native"
    log.info("tracing: exporting spans over OTLP/HTTP (FastMCP telemetry %s)", fastmcp.settings.telemetry_mode)

    def shutdown() -> None:
        def run() -> None:
            try:
                provider.shutdown()
            except Exception:  # the hub is stopping: a failed export is only logged
                log.exception("tracing: shutting the SDK down failed")

        done = threading.Thread(target=run, name="otel-shutdown", daemon=True)
        done.start()
        done.join(SHUTDOWN_TIMEOUT_S)
        if done.is_alive():
            log.warning("tracing: the last spans were not exported within %.0f s", SHUTDOWN_TIMEOUT_S)

    return shutdown
