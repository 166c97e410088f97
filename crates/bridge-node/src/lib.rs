//! N-API binding of fastmcp-bridge: converts types and calls the core.
//!
//! Values cross the boundary as JSON text (parsed by the JS wrapper) and
//! failures as a structured [`NativeError`], never as a thrown exception, so
//! that the JS side can build a `BridgeError` with its code and data. A
//! call's params go into the request as the JSON text JS made, checked but
//! not parsed, and its result comes back as the server's text, unparsed.
//!
//! # Theory of operation: calls cross in batches
//!
//! A call crosses the boundary twice: from Node's main thread to the tokio
//! runtime, and back with its outcome. Each crossing would otherwise cost a
//! thread wake-up per call (an `eventfd` write to the parked tokio worker,
//! a `uv_async_send` and a callback scope on Node's side), which on a small
//! machine costs more than the call's own work. Both directions are batched
//! instead:
//!
//! - **Out.** [`NativeBridge::call`] checks the arguments and admits the
//!   call to its workspace's queue at once, on the JS thread (so calls keep
//!   their order and their deadlines count from the call), then parks the
//!   rest of its work in the *submitted* list. It returns `true` when the
//!   list was empty: the caller then owes one [`NativeBridge::flush`],
//!   which the JS wrapper makes in a microtask, after the JS code that made
//!   the calls has returned. The flush spawns a task per call, in call
//!   order, back to back: the first wakes the parked worker, and the rest
//!   find it awake (one wake-up per batch rather than per call).
//! - **Back.** A settled call's outcome goes into the *settled* list; when
//!   that list was empty, the runtime rings the constructor's `on_settle`
//!   doorbell (a threadsafe function without arguments). JS answers the
//!   doorbell with [`NativeBridge::take_settled`], which hands over every
//!   outcome settled by then. A ring is made whenever the list turns
//!   non-empty, and each take empties it, so every outcome is taken by the
//!   take that answers its ring or by an earlier one; a ring that finds the
//!   list empty takes nothing.
//!
//! Under load both lists hold many calls per crossing; one call at a time
//! costs the same wake-ups as an unbatched design plus one synchronous
//! crossing (`take_settled`, below a microsecond).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The addon's tokio runtime, created when the addon loads: one worker
/// thread, unless the `TOKIO_WORKER_THREADS` environment variable sets
/// another number (tokio reads it for napi-rs's default runtime).
///
/// One worker measured best on a 2-core machine, in throughput and in
/// client CPU per call, against both a bare echo server and FastMCP (the
/// "Variants" figures in `bench/results/2026-11-29-encoded-once.md`): the
/// core's work per call is small and I/O-bound, and a second worker mostly
/// adds thread wake-ups.
/// More workers can help when many workspaces exchange large messages at
/// once, whose JSON a single worker decodes one after another.
#[napi_derive::module_init]
fn init_runtime() {
    if std::env::var_os("TOKIO_WORKER_THREADS").is_some() {
        return;
    }
    match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(runtime) => napi::bindgen_prelude::create_custom_tokio_runtime(runtime),
        // napi-rs then builds its default runtime on first use.
        Err(e) => eprintln!("fastmcp-bridge: one-worker tokio runtime not created ({e}); using the default"),
    }
}

use bridge_core::bridge::BridgeRequestHandler;
use bridge_core::call::RequestHandler;
use bridge_core::jsonrpc::Params;
use bridge_core::{
    Bridge, BridgeConfig, BridgeHandlers, CallOptions, ClientIdentity, Error, Priority, Progress,
    SessionHandle,
};
use napi::bindgen_prelude::{Either, FnArgs, Promise};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
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
    /// JSON text of the JSON-RPC `result` (for a call: as the server wrote
    /// it).
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

/// The doorbell rung when settled outcomes wait for
/// [`NativeBridge::take_settled`] (see the crate docs). One such function
/// serves every call of a bridge (napi-rs would otherwise create a
/// threadsafe function per returned promise). Weak: the JS wrapper keeps
/// the event loop alive while calls are pending.
type SettleCallback = ThreadsafeFunction<(), (), (), Status, false, true>;

/// Answers a server request: given its JSON text, resolves with JSON text
/// `{"result": ...}` or `{"error": {code, message, data?}}`.
type CallRequestCallback = ThreadsafeFunction<String, Promise<String>, String, Status, false>;
/// As [`CallRequestCallback`] for a session; weak.
type SessionRequestCallback = ThreadsafeFunction<String, Promise<String>, String, Status, false, true>;
/// As [`CallRequestCallback`], with the workspace id first; weak.
type BridgeRequestCallback = ThreadsafeFunction<
    FnArgs<(String, String)>,
    Promise<String>,
    FnArgs<(String, String)>,
    Status,
    false,
    true,
>;

/// Reads a JS handler's answer envelope.
fn answer(envelope: napi::Result<String>) -> Result<serde_json::Value, Error> {
    let text = envelope.map_err(|e| Error::JsonRpc {
        code: -32603,
        message: format!("request handler failed: {}", e.reason),
        data: None,
    })?;
    let mut value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Protocol(format!("request handler answer: {e}")))?;
    if let Some(result) = value.get_mut("result") {
        return Ok(result.take());
    }
    let error = value.get_mut("error").map(serde_json::Value::take).unwrap_or_default();
    Err(Error::JsonRpc {
        code: error.get("code").and_then(serde_json::Value::as_i64).unwrap_or(-32603),
        message: error.get("message").and_then(serde_json::Value::as_str).unwrap_or("").to_owned(),
        data: error.get("data").cloned(),
    })
}

macro_rules! js_request_handler {
    ($callback:expr, $args:expr) => {{
        let callback = Arc::new($callback);
        Arc::new(move |request: serde_json::Value| {
            let callback = callback.clone();
            Box::pin(async move {
                let promise = callback.call_async_catch($args(request.to_string())).await;
                match promise {
                    Ok(promise) => answer(promise.await),
                    Err(e) => answer(Err(e)),
                }
            }) as BoxFuture<'static, Result<serde_json::Value, Error>>
        })
    }};
}

fn call_request_handler(callback: CallRequestCallback) -> RequestHandler {
    js_request_handler!(callback, |json: String| json)
}

fn session_request_handler(callback: SessionRequestCallback) -> RequestHandler {
    js_request_handler!(callback, |json: String| json)
}

fn bridge_request_handler(callback: BridgeRequestCallback) -> BridgeRequestHandler {
    let callback = Arc::new(callback);
    Arc::new(move |workspace: &str, request: serde_json::Value| {
        let callback = callback.clone();
        let args = FnArgs::from((workspace.to_owned(), request.to_string()));
        Box::pin(async move {
            match callback.call_async_catch(args).await {
                Ok(promise) => answer(promise.await),
                Err(e) => answer(Err(e)),
            }
        }) as BoxFuture<'static, Result<serde_json::Value, Error>>
    })
}

fn notification_handler(callback: NotificationCallback) -> bridge_core::call::NotificationHandler {
    let callback = Arc::new(callback);
    Arc::new(move |workspace: &str, message: serde_json::Value| {
        callback.call(
            FnArgs::from((workspace.to_owned(), message.to_string())),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    })
}

/// Called with the JSON text of each supervision event; weak.
type EventCallback = ThreadsafeFunction<String, (), String, Status, false, true>;

fn json_outcome<T: serde::Serialize>(result: Result<T, Error>) -> Outcome {
    outcome(result.map(|value| serde_json::to_value(value).expect("serializable")))
}

/// A grace period given in ms from JS (negative counts as 0).
fn grace(ms: f64) -> Duration {
    Duration::from_millis(ms.max(0.0) as u64)
}

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

/// The outcome of a call: its result's text, as the server wrote it.
fn raw_outcome(result: Result<Box<serde_json::value::RawValue>, Error>) -> Outcome {
    match result {
        Ok(raw) => Outcome {
            result: Some(String::from(Box::<str>::from(raw))),
            error: None,
        },
        Err(err) => failure(err),
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

/// The synchronous part of a native call: checks the arguments and queues
/// the call (`make`); the returned future does the rest.
fn start_call<F>(
    cancels: &Arc<Mutex<HashMap<u32, CancellationToken>>>,
    params_json: Option<String>,
    options: Option<NativeCallOptions>,
    on_progress: Option<ProgressCallback>,
    on_request: Option<CallRequestCallback>,
    make: impl FnOnce(Option<Params>, CallOptions) -> F,
) -> BoxFuture<'static, Outcome>
where
    F: std::future::Future<Output = Result<Box<serde_json::value::RawValue>, Error>> + Send + 'static,
{
    // Checked, not parsed: the text goes into the request as it is.
    let params = match params_json.map(Params::from_json) {
        None => None,
        Some(Ok(params)) => Some(params),
        Some(Err(e)) => return ready(failure(e)),
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
        cancels.lock().expect("cancel map").entry(id).or_default().clone()
    });

    // Progress goes through a channel only when JS asked for it.
    let (on_progress_core, mut progress_rx) = match on_progress.is_some() {
        false => (None, None),
        true => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
            let handler = Box::new(move |p: Progress| {
                let _ = tx.send(p);
            }) as bridge_core::call::ProgressHandler;
            (Some(handler), Some(rx))
        }
    };
    let call_options = CallOptions {
        priority,
        timeout,
        reset_timeout_on_progress: options.reset_timeout_on_progress.unwrap_or(false),
        max_total_timeout,
        cancel,
        on_progress: on_progress_core,
        on_request: on_request.map(call_request_handler),
    };
    let call = make(params, call_options);
    let cancels = cancels.clone();
    Box::pin(async move {
        // Deliver every progress update to JS, in order, before resolving.
        let deliver = async {
            if let (Some(callback), Some(progress_rx)) = (&on_progress, progress_rx.as_mut()) {
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
        raw_outcome(result)
    })
}

/// Sessions opened through a bridge, by a small integer id for JS.
#[derive(Default)]
struct Sessions {
    next: u32,
    open: HashMap<u32, Arc<SessionHandle>>,
}

impl Sessions {
    fn insert(&mut self, handle: Arc<SessionHandle>) -> u32 {
        self.next = self.next.wrapping_add(1).max(1);
        self.open.insert(self.next, handle);
        self.next
    }

    fn get(&self, id: u32) -> Option<Arc<SessionHandle>> {
        self.open.get(&id).cloned()
    }

    fn remove(&mut self, id: u32) -> Option<Arc<SessionHandle>> {
        self.open.remove(&id)
    }
}

/// Outcomes settled on the runtime and not yet taken by JS, with the
/// doorbell that tells JS to take them (see the crate docs).
struct Settled {
    outcomes: Mutex<Vec<(u32, Outcome)>>,
    doorbell: SettleCallback,
}

impl Settled {
    /// Adds the outcome of call `settle_id`; rings when the list was empty.
    fn push(&self, settle_id: u32, outcome: Outcome) {
        let was_empty = {
            let mut outcomes = self.outcomes.lock().expect("settled list");
            outcomes.push((settle_id, outcome));
            outcomes.len() == 1
        };
        if was_empty {
            self.doorbell.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// Outcomes handed to JS by [`NativeBridge::take_settled`]: `outcomes[i]`
/// settles the call whose settle id is `ids[i]`.
#[napi(object)]
pub struct SettledCalls {
    /// Settle ids, as given to `call` or `session_call`.
    pub ids: Vec<u32>,
    /// JSON text of the result (as the server wrote it), or the failure.
    pub outcomes: Vec<Either<String, NativeError>>,
}

/// The native bridge; use the `Bridge` class of the JS package instead.
#[napi]
pub struct NativeBridge {
    inner: Arc<Bridge>,
    /// Calls admitted since the last [`NativeBridge::flush`].
    submitted: Mutex<Vec<(u32, BoxFuture<'static, Outcome>)>>,
    settled: Arc<Settled>,
    cancels: Arc<Mutex<HashMap<u32, CancellationToken>>>,
    sessions: Mutex<Sessions>,
}

#[napi]
impl NativeBridge {
    /// Creates a bridge from its options as JSON text (camelCase).
    ///
    /// Throws `INVALID_ARGUMENT: …` when the options are malformed.
    #[napi(constructor)]
    pub fn new(
        options_json: String,
        on_settle: SettleCallback,
        on_notification: Option<NotificationCallback>,
        on_request: Option<BridgeRequestCallback>,
        on_event: Option<EventCallback>,
    ) -> napi::Result<Self> {
        let config = BridgeConfig::from_json(&options_json)
            .map_err(|e| napi::Error::from_reason(format!("INVALID_ARGUMENT: {e}")))?;
        let notifications = on_notification.map(notification_handler);
        let events = on_event.map(|callback| {
            let callback = Arc::new(callback);
            Arc::new(move |event: serde_json::Value| {
                callback.call(event.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
            }) as bridge_core::supervisor::EventSink
        });
        let handlers = BridgeHandlers {
            notifications,
            requests: on_request.map(bridge_request_handler),
            events,
        };
        Ok(NativeBridge {
            inner: Arc::new(Bridge::new(config, handlers)),
            submitted: Mutex::default(),
            settled: Arc::new(Settled {
                outcomes: Mutex::default(),
                doorbell: on_settle,
            }),
            cancels: Arc::default(),
            sessions: Mutex::default(),
        })
    }

    /// Sends a JSON-RPC request; `params_json` is JSON text or absent.
    /// The call is admitted to its workspace's queue before this returns,
    /// so calls keep their order; it is sent after the next
    /// [`NativeBridge::flush`], and its outcome, under `settle_id`, comes
    /// from [`NativeBridge::take_settled`]. Progress updates reach
    /// `on_progress` before the call settles.
    ///
    /// Returns `true` when this call is the first since the last flush:
    /// the caller must then arrange one `flush()`.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        settle_id: u32,
        workspace_id: String,
        method: String,
        params_json: Option<String>,
        options: Option<NativeCallOptions>,
        on_progress: Option<ProgressCallback>,
        on_request: Option<CallRequestCallback>,
    ) -> bool {
        let bridge = self.inner.clone();
        let outcome = start_call(&self.cancels, params_json, options, on_progress, on_request, |params, options| {
            bridge.call_raw(&workspace_id, &method, params, options)
        });
        self.submit(settle_id, outcome)
    }

    /// Parks a call's remaining work until the next flush; `true` when the
    /// submitted list was empty.
    fn submit(&self, settle_id: u32, outcome: BoxFuture<'static, Outcome>) -> bool {
        let mut submitted = self.submitted.lock().expect("submitted list");
        submitted.push((settle_id, outcome));
        submitted.len() == 1
    }

    /// Hands every call submitted since the last flush to the runtime, in
    /// the order they were made, each as a task of its own whose outcome
    /// joins the settled list. Does nothing when no call is waiting.
    ///
    /// Spawned from this (non-runtime) thread, the tasks go through tokio's
    /// shared FIFO queue, so they start in call order and a request is sent
    /// before the next one's; spawned from a runtime task they would pass
    /// through the worker's last-in-first-out slot (the last call first).
    /// The first spawn wakes a parked worker; the rest of the batch, pushed
    /// back to back, finds it awake.
    #[napi]
    pub fn flush(&self) {
        let batch = std::mem::take(&mut *self.submitted.lock().expect("submitted list"));
        for (settle_id, outcome) in batch {
            let settled = self.settled.clone();
            napi::bindgen_prelude::spawn(async move { settled.push(settle_id, outcome.await) });
        }
    }

    /// Takes every outcome settled since the last take (after a ring of
    /// the constructor's `on_settle`), oldest first; empty when an earlier
    /// take already had them.
    #[napi]
    pub fn take_settled(&self) -> SettledCalls {
        let outcomes = std::mem::take(&mut *self.settled.outcomes.lock().expect("settled list"));
        let mut calls = SettledCalls {
            ids: Vec::with_capacity(outcomes.len()),
            outcomes: Vec::with_capacity(outcomes.len()),
        };
        for (settle_id, outcome) in outcomes {
            calls.ids.push(settle_id);
            calls.outcomes.push(match outcome {
                Outcome { error: Some(error), .. } => Either::B(error),
                Outcome { result, error: None } => Either::A(result.unwrap_or_else(|| "null".to_owned())),
            });
        }
        calls
    }

    /// Opens a further MCP session on a workspace's process with its own
    /// `clientInfo` and capabilities (JSON text) and request handler.
    #[napi]
    pub fn session(
        &self,
        workspace_id: String,
        client_info_json: Option<String>,
        capabilities_json: Option<String>,
        on_request: Option<SessionRequestCallback>,
        on_notification: Option<NotificationCallback>,
    ) -> Outcome {
        let mut identity = ClientIdentity::default();
        for (json, slot) in [
            (client_info_json, &mut identity.client_info),
            (capabilities_json, &mut identity.capabilities),
        ] {
            match json.as_deref().map(serde_json::from_str) {
                None => {}
                Some(Ok(value)) => *slot = value,
                Some(Err(e)) => return failure(Error::InvalidArgument(format!("session options: {e}"))),
            }
        }
        let notifications = on_notification.map(notification_handler);
        match self.inner.session(&workspace_id, identity, on_request.map(session_request_handler), notifications) {
            Ok(handle) => {
                let id = self.sessions.lock().expect("session map").insert(handle);
                Outcome {
                    result: Some(id.to_string()),
                    error: None,
                }
            }
            Err(e) => failure(e),
        }
    }

    /// Sends a JSON-RPC request on a session opened with
    /// [`NativeBridge::session`]; queued, flushed and settled as
    /// [`NativeBridge::call`] is, and returns the same flag.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn session_call(
        &self,
        settle_id: u32,
        session_id: u32,
        method: String,
        params_json: Option<String>,
        options: Option<NativeCallOptions>,
        on_progress: Option<ProgressCallback>,
        on_request: Option<CallRequestCallback>,
    ) -> bool {
        let handle = self.sessions.lock().expect("session map").get(session_id);
        let outcome = match handle {
            None => ready(failure(Error::Closed)),
            Some(handle) => start_call(&self.cancels, params_json, options, on_progress, on_request, |params, options| {
                handle.call_raw(&method, params, options)
            }),
        };
        self.submit(settle_id, outcome)
    }

    /// The `InitializeResult` of a session's MCP session.
    #[napi]
    pub async fn session_server_info(&self, session_id: u32) -> Outcome {
        let handle = self.sessions.lock().expect("session map").get(session_id);
        match handle {
            None => failure(Error::Closed),
            Some(handle) => outcome(handle.server_info().await),
        }
    }

    /// Ends a session; idempotent.
    #[napi]
    pub async fn session_close(&self, session_id: u32) {
        let handle = self.sessions.lock().expect("session map").remove(session_id);
        if let Some(handle) = handle {
            handle.close().await;
        }
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

    /// Adds a workspace at run time; `spec_json` as one entry of the
    /// `workspaces` option.
    #[napi]
    pub fn add_workspace(&self, workspace_id: String, spec_json: String) -> Outcome {
        json_outcome(self.inner.add_workspace(&workspace_id, &spec_json))
    }

    /// Removes a workspace, stopping its process with a grace period in ms.
    #[napi]
    pub async fn remove_workspace(&self, workspace_id: String, grace_ms: f64) -> Outcome {
        let bridge = self.inner.clone();
        json_outcome(bridge.remove_workspace(&workspace_id, grace(grace_ms)).await)
    }

    /// JSON text of a workspace's supervision state.
    #[napi]
    pub fn status(&self, workspace_id: String) -> Outcome {
        json_outcome(self.inner.status(&workspace_id))
    }

    /// JSON text of every workspace's supervision state.
    #[napi]
    pub fn statuses(&self) -> String {
        serde_json::to_string(&self.inner.statuses()).expect("serializable")
    }

    /// JSON text of a workspace's last output lines.
    #[napi]
    pub fn logs(&self, workspace_id: String, lines: u32) -> Outcome {
        json_outcome(self.inner.logs(&workspace_id, lines as usize))
    }

    /// JSON text of the last supervision events, of one workspace or all.
    #[napi]
    pub fn events(&self, workspace_id: Option<String>) -> String {
        serde_json::to_string(&self.inner.events(workspace_id.as_deref())).expect("serializable")
    }

    /// Starts a workspace's process now.
    #[napi]
    pub async fn start(&self, workspace_id: String) -> Outcome {
        let bridge = self.inner.clone();
        json_outcome(bridge.start(&workspace_id).await)
    }

    /// Stops a workspace's process with a grace period in ms.
    #[napi]
    pub async fn stop(&self, workspace_id: String, grace_ms: f64) -> Outcome {
        let bridge = self.inner.clone();
        json_outcome(bridge.stop(&workspace_id, grace(grace_ms)).await)
    }

    /// Restarts a workspace's process with a grace period in ms.
    #[napi]
    pub async fn restart(&self, workspace_id: String, grace_ms: f64) -> Outcome {
        let bridge = self.inner.clone();
        json_outcome(bridge.restart(&workspace_id, grace(grace_ms)).await)
    }

    /// JSON text of a workspace's metrics.
    #[napi]
    pub fn metrics(&self, workspace_id: String) -> Outcome {
        json_outcome(self.inner.metrics(&workspace_id))
    }

    /// Whether `workspace_id` is configured.
    #[napi]
    pub fn has_workspace(&self, workspace_id: String) -> bool {
        self.inner.has_workspace(&workspace_id)
    }

    /// The configured workspace ids, sorted.
    #[napi]
    pub fn workspace_ids(&self) -> Vec<String> {
        self.inner.workspace_ids()
    }

    /// Stops every process the bridge started. Calls submitted and not yet
    /// flushed are flushed first (on the runtime, racing the JS side's own
    /// flush: one of them gets the batch); like every call pending at
    /// close, they settle with `CLOSED` unless they finished first.
    /// Idempotent.
    #[napi]
    pub async fn close(&self) {
        self.flush();
        let bridge = self.inner.clone();
        bridge.close().await;
    }
}
