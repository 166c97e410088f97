//! N-API binding of fastmcp-bridge: converts types and calls the core.
//!
//! Values cross the boundary as JSON text (parsed by the JS wrapper) and
//! failures as a structured [`NativeError`], never as a thrown exception, so
//! that the JS side can build a `BridgeError` with its code and data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bridge_core::{Bridge, BridgeConfig, CallOptions, Error, Priority, Progress};
use napi::bindgen_prelude::{FnArgs, PromiseRaw};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

/// A failed call, as the JS wrapper turns it into a `BridgeError`.
#[napi(object)]
pub struct NativeError {
    /// Symbolic name from `errors.json` (e.g. `UNKNOWN_WORKSPACE`); absent
    /// for a JSON-RPC error returned by the server.
    pub name: Option<String>,
    /// JSON-RPC error code: the bridge's own, or the server's.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
    /// JSON text of structured details, if any.
    pub data: Option<String>,
}

/// The outcome of a native call: exactly one of `result` and `error`.
#[napi(object)]
pub struct Outcome {
    /// JSON text of the JSON-RPC `result`.
    pub result: Option<String>,
    /// The failure.
    pub error: Option<NativeError>,
}

/// One MCP progress notification of a call.
#[napi(object)]
pub struct ProgressUpdate {
    /// Progress so far.
    pub progress: f64,
    /// Total, when known.
    pub total: Option<f64>,
    /// Status message, when given.
    pub message: Option<String>,
}

/// Called in order with each progress notification of a call.
type ProgressCallback = ThreadsafeFunction<ProgressUpdate, (), ProgressUpdate, Status, false>;
/// Called with `(workspaceId, messageJson)` for server notifications; weak,
/// so that it never keeps Node's event loop alive.
type NotificationCallback =
    ThreadsafeFunction<FnArgs<(String, String)>, (), FnArgs<(String, String)>, Status, false, true>;

/// Options of one native call (see `CallOptions` in index.d.ts).
#[napi(object)]
pub struct NativeCallOptions {
    /// `"high"`, `"normal"` or `"low"`.
    pub priority: Option<String>,
    /// Per-call timeout, in ms.
    pub timeout_ms: Option<f64>,
    /// Restart the timeout on each progress notification.
    pub reset_timeout_on_progress: Option<bool>,
    /// Cap on the whole call, in ms.
    pub max_total_timeout_ms: Option<f64>,
    /// Handle for [`NativeBridge::cancel`].
    pub call_id: Option<u32>,
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

fn ready(outcome: Outcome) -> BoxFuture<'static, Outcome> {
    Box::pin(std::future::ready(outcome))
}

fn failure(err: Error) -> Outcome {
    let message = match &err {
        Error::JsonRpc { message, .. } => message.clone(),
        other => other.to_string(),
    };
    Outcome {
        result: None,
        error: Some(NativeError {
            name: err.name().map(str::to_owned),
            code: err.rpc_code(),
            message,
            data: err.data().map(|d| d.to_string()),
        }),
    }
}

fn outcome(result: Result<serde_json::Value, Error>) -> Outcome {
    match result {
        Ok(value) => Outcome {
            result: Some(value.to_string()),
            error: None,
        },
        Err(err) => failure(err),
    }
}

fn millis(value: Option<f64>, name: &str) -> Result<Option<Duration>, Error> {
    match value {
        None => Ok(None),
        Some(ms) if ms.is_finite() && ms >= 1.0 => Ok(Some(Duration::from_millis(ms as u64))),
        Some(ms) => Err(Error::InvalidArgument(format!("{name} must be at least 1 ms, got {ms}"))),
    }
}

/// The native bridge; use the `Bridge` class of the JS package instead.
#[napi]
pub struct NativeBridge {
    inner: Arc<Bridge>,
    cancels: Arc<Mutex<HashMap<u32, CancellationToken>>>,
}

#[napi]
impl NativeBridge {
    /// Creates a bridge from its options as JSON text (camelCase).
    ///
    /// Throws `INVALID_ARGUMENT: …` when the options are malformed.
    #[napi(constructor)]
    pub fn new(options_json: String, on_notification: Option<NotificationCallback>) -> napi::Result<Self> {
        let config = BridgeConfig::from_json(&options_json)
            .map_err(|e| napi::Error::from_reason(format!("INVALID_ARGUMENT: {e}")))?;
        let notifications = on_notification.map(|callback| {
            let callback = Arc::new(callback);
            Arc::new(move |workspace: &str, message: serde_json::Value| {
                callback.call(
                    FnArgs::from((workspace.to_owned(), message.to_string())),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            }) as bridge_core::workspace::NotificationHandler
        });
        Ok(NativeBridge {
            inner: Arc::new(Bridge::new(config, notifications)),
            cancels: Arc::default(),
        })
    }

    /// Sends a JSON-RPC request; `params_json` is JSON text or absent.
    /// The call is queued before this returns, so calls keep their order.
    /// Progress updates reach `on_progress` before the promise resolves.
    #[napi(ts_return_type = "Promise<Outcome>")]
    pub fn call<'env>(
        &self,
        env: &'env Env,
        workspace_id: String,
        method: String,
        params_json: Option<String>,
        options: Option<NativeCallOptions>,
        on_progress: Option<ProgressCallback>,
    ) -> napi::Result<PromiseRaw<'env, Outcome>> {
        let outcome = self.start_call(workspace_id, method, params_json, options, on_progress);
        env.spawn_future(async move { Ok(outcome.await) })
    }

    /// The synchronous part of [`NativeBridge::call`]: checks the arguments
    /// and queues the call; the returned future does the rest.
    fn start_call(
        &self,
        workspace_id: String,
        method: String,
        params_json: Option<String>,
        options: Option<NativeCallOptions>,
        on_progress: Option<ProgressCallback>,
    ) -> BoxFuture<'static, Outcome> {
        let params = match params_json.as_deref().map(serde_json::from_str) {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(e)) => return ready(failure(Error::InvalidArgument(format!("params: {e}")))),
        };
        let options = options.unwrap_or(NativeCallOptions {
            priority: None,
            timeout_ms: None,
            reset_timeout_on_progress: None,
            max_total_timeout_ms: None,
            call_id: None,
        });
        let priority = match options.priority.as_deref().map(|p| (p, Priority::parse(p))) {
            None => Priority::Normal,
            Some((_, Some(priority))) => priority,
            Some((text, None)) => {
                return ready(failure(Error::InvalidArgument(format!(
                    "priority must be 'high', 'normal' or 'low', got {text:?}"
                ))))
            }
        };
        let (timeout, max_total_timeout) = match (
            millis(options.timeout_ms, "timeoutMs"),
            millis(options.max_total_timeout_ms, "maxTotalTimeoutMs"),
        ) {
            (Ok(t), Ok(m)) => (t, m),
            (Err(e), _) | (_, Err(e)) => return ready(failure(e)),
        };
        let cancel = options.call_id.map(|id| {
            // An abort may arrive before this task runs: share its token.
            self.cancels.lock().expect("cancel map").entry(id).or_default().clone()
        });

        let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let on_progress_core = on_progress.is_some().then(|| {
            Box::new(move |p: Progress| {
                let _ = progress_tx.send(p);
            }) as bridge_core::call::ProgressHandler
        });
        let call_options = CallOptions {
            priority,
            timeout,
            reset_timeout_on_progress: options.reset_timeout_on_progress.unwrap_or(false),
            max_total_timeout,
            cancel,
            on_progress: on_progress_core,
        };
        let call = self.inner.call(&workspace_id, &method, params, call_options);
        let cancels = self.cancels.clone();
        Box::pin(async move {
            // Deliver every progress update to JS, in order, before resolving.
            let deliver = async {
                if let Some(callback) = &on_progress {
                    while let Some(p) = progress_rx.recv().await {
                        let update = ProgressUpdate {
                            progress: p.progress,
                            total: p.total,
                            message: p.message,
                        };
                        let _ = callback.call_async_catch(update).await;
                    }
                }
            };
            let (result, ()) = tokio::join!(call, deliver);
            if let Some(id) = options.call_id {
                cancels.lock().expect("cancel map").remove(&id);
            }
            outcome(result)
        })
    }

    /// Aborts the call started with this `callId`: it rejects with
    /// `ABORTED`, and the server is sent `notifications/cancelled` if the
    /// request was sent.
    #[napi]
    pub fn cancel(&self, call_id: u32) {
        self.cancels.lock().expect("cancel map").entry(call_id).or_default().cancel();
    }

    /// The workspace server's `InitializeResult`, starting it if needed.
    #[napi]
    pub async fn server_info(&self, workspace_id: String) -> Outcome {
        let bridge = self.inner.clone();
        outcome(bridge.server_info(&workspace_id).await)
    }

    /// JSON text of a workspace's metrics.
    #[napi]
    pub fn metrics(&self, workspace_id: String) -> Outcome {
        outcome(
            self.inner
                .metrics(&workspace_id)
                .map(|m| serde_json::to_value(m).expect("metrics serialize")),
        )
    }

    /// The configured workspace ids, sorted.
    #[napi]
    pub fn workspace_ids(&self) -> Vec<String> {
        self.inner.workspace_ids()
    }

    /// Stops every process the bridge started. Idempotent.
    #[napi]
    pub async fn close(&self) {
        let bridge = self.inner.clone();
        bridge.close().await;
    }
}
