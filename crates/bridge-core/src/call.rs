//! Per-call options.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::queue::Priority;

/// One MCP progress notification's payload (MCP 2025-06-18, Basic /
/// Utilities / Progress).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// Progress so far; increases with every notification.
    pub progress: f64,
    /// Total, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// Human-readable status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Progress {
    /// Reads `notifications/progress` params; `None` when `progress` is
    /// missing or not a number.
    pub fn from_params(params: &Value) -> Option<Progress> {
        Some(Progress {
            progress: params.get("progress")?.as_f64()?,
            total: params.get("total").and_then(Value::as_f64),
            message: params.get("message").and_then(Value::as_str).map(str::to_owned),
        })
    }
}

/// Called with each progress notification of a call, in order, before the
/// call settles.
pub type ProgressHandler = Box<dyn Fn(Progress) + Send + Sync>;

/// Answers a server request (`sampling/createMessage`, `elicitation/create`,
/// `roots/list`, ...): given the whole JSON-RPC request, resolves with its
/// `result`, or fails with [`Error::JsonRpc`] (any other error answers
/// -32603).
pub type RequestHandler = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, Error>> + Send + Sync>;

/// Called with `(workspace id, message)` for each server notification not
/// tied to a call.
pub type NotificationHandler = Arc<dyn Fn(&str, Value) + Send + Sync>;

/// Options of one call. Semantics of the timeouts follow the official MCP
/// TypeScript SDK's `RequestOptions`.
///
/// # Default
///
/// Normal priority; the workspace's timeout (30000 ms unless configured);
/// no progress, no total cap, no cancellation.
#[derive(Default)]
pub struct CallOptions {
    /// Queue priority.
    pub priority: Priority,
    /// Time from the call (queue wait included) to its settling; `None` uses
    /// the workspace's `timeoutMs`.
    pub timeout: Option<Duration>,
    /// Restart the timeout at each progress notification.
    pub reset_timeout_on_progress: bool,
    /// Cap on the whole call, whatever the progress.
    pub max_total_timeout: Option<Duration>,
    /// Cancelling it aborts the call (`ABORTED`).
    pub cancel: Option<CancellationToken>,
    /// Asks the server for progress (`_meta.progressToken`) and receives it.
    pub on_progress: Option<ProgressHandler>,
    /// Answers server requests that arrive in the context of this call (on
    /// its response stream); others go to the session's handler.
    pub on_request: Option<RequestHandler>,
    /// What the request log records of the caller.
    pub tags: CallTags,
    /// When set, receives the time the call waited in its workspace's
    /// queue, in µs, by the time the call settles (its whole duration when
    /// it never left the queue). Tracing reads it (the JS binding's span
    /// attribute `fastmcp_bridge.queue_wait_ms`).
    pub queue_wait: Option<Arc<AtomicU64>>,
}

/// What the request log ([`crate::request_log`]) records of a call's
/// caller, beyond the call itself.
#[derive(Default, Clone, Debug)]
pub struct CallTags {
    /// The downstream principal (the Express endpoint's `req.auth`).
    pub principal: Option<String>,
    /// The MCP session the call came on, as the caller names it (the
    /// Express endpoint's `Mcp-Session-Id`).
    pub session: Option<String>,
}
