"""OpenTelemetry traces of the hub, on when the bridge asks for them.

The bridge's ``tracing`` option gives the hub's process
``FASTMCP_WORKSPACE_TRACING=1`` and the bridge's ``OTEL_*`` environment
variables. :func:`configure` then installs the OpenTelemetry SDK's
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
from collections.abc import Callable

import fastmcp

ENV = "FASTMCP_WORKSPACE_TRACING"
"""The variable that asks for traces (``1`` or ``true``)."""
DEFAULT_SERVICE_NAME = "fastmcp-workspace"
"""``service.name`` when neither ``OTEL_SERVICE_NAME`` nor
``OTEL_RESOURCE_ATTRIBUTES`` names one."""
log = logging.getLogger("fastmcp_workspace.tracing")


def requested() -> bool:
    """Whether this process's environment asks for traces."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true")


def configure() -> Callable[[], None] | None:
    """Installs the SDK when :func:`requested`; returns its shutdown.

    The shutdown exports the spans still batched, within the processor's
    ``OTEL_BSP_EXPORT_TIMEOUT`` (ms, default 30000). The hub calls it when
    it stops: a forked hub ends with ``os._exit``, which runs no ``atexit``
    hook, so the SDK's own would not. Returns ``None`` when traces are not
    requested, leaving FastMCP's telemetry mode as it is.
    """
    if not requested():
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {}
    named = "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not os.environ.get("OTEL_SERVICE_NAME") and not named:
        attributes["service.name"] = DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    if "FASTMCP_TELEMETRY_MODE" not in os.environ:
        fastmcp.settings.telemetry_mode = "native"
    log.info("tracing: exporting spans over OTLP/HTTP (FastMCP telemetry %s)", fastmcp.settings.telemetry_mode)

    def shutdown() -> None:
        try:
            provider.shutdown()
        except Exception:  # the hub is stopping: a failed export is only logged
            log.exception("tracing: shutting the SDK down failed")

    return shutdown
