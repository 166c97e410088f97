//! JS functions the core calls: progress of a call, handlers of server
//! requests and notifications, supervision events, and the settle
//! doorbell. Each is a threadsafe function; those of the bridge and its
//! sessions are weak, so that they never keep Node's event loop alive.

use std::sync::Arc;

use crate::BoxFuture;
use bridge_core::bridge::BridgeRequestHandler;
use bridge_core::call::{NotificationHandler, RequestHandler};
use bridge_core::Error;
use napi::bindgen_prelude::{FnArgs, Promise};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

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

/// Called with `(callId, update)`, in order, for each progress
/// notification of a call made with progress asked for. One function
/// serves every call of a bridge and its sessions (see the `batch` module:
/// a threadsafe function per call would cost its creation and release on
/// the JS thread); weak, as the JS wrapper keeps the event loop alive while
/// calls are pending.
#[napi]
pub type CallProgressCallback = ThreadsafeFunction<
    FnArgs<(u32, ProgressUpdate)>,
    (),
    FnArgs<(u32, ProgressUpdate)>,
    Status,
    false,
    true,
>;
/// Called with `(workspaceId, messageJson)` for server notifications; weak,
/// so that it never keeps Node's event loop alive.
#[napi]
pub type NotificationCallback =
    ThreadsafeFunction<FnArgs<(String, String)>, (), FnArgs<(String, String)>, Status, false, true>;

/// The doorbell rung when settled outcomes wait for
/// [`NativeBridge::take_settled`] (see the crate docs). One such function
/// serves every call of a bridge (napi-rs would otherwise create a
/// threadsafe function per returned promise). Weak: the JS wrapper keeps
/// the event loop alive while calls are pending.
#[napi]
pub type SettleCallback = ThreadsafeFunction<(), (), (), Status, false, true>;

/// Answers a server request related to a call made with its own request
/// handler: given `(callId, requestJson)`, resolves with JSON text
/// `{"result": ...}` or `{"error": {code, message, data?}}`. One function
/// serves every call of a bridge and its sessions, as
/// [`CallProgressCallback`]; weak.
#[napi]
pub type CallRequestCallback = ThreadsafeFunction<
    FnArgs<(u32, String)>,
    Promise<String>,
    FnArgs<(u32, String)>,
    Status,
    false,
    true,
>;
/// Answers a session's server requests: given the request's JSON text,
/// resolves as [`CallRequestCallback`] does; weak.
#[napi]
pub type SessionRequestCallback =
    ThreadsafeFunction<String, Promise<String>, String, Status, false, true>;
/// As [`CallRequestCallback`], with the workspace id first; weak.
#[napi]
pub type BridgeRequestCallback = ThreadsafeFunction<
    FnArgs<(String, String)>,
    Promise<String>,
    FnArgs<(String, String)>,
    Status,
    false,
    true,
>;

/// Called with the JSON text of each supervision event; weak.
#[napi]
pub type EventCallback = ThreadsafeFunction<String, (), String, Status, false, true>;

/// Called with the JSON text of each output line of a watched workspace
/// (`{ at, stream, line }`); weak.
#[napi]
pub type LogCallback = ThreadsafeFunction<String, (), String, Status, false, true>;

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
    let error = value
        .get_mut("error")
        .map(serde_json::Value::take)
        .unwrap_or_default();
    Err(Error::JsonRpc {
        code: error
            .get("code")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(-32603),
        message: error
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned(),
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

/// The handler of server requests of call `call_id`: the bridge's shared
/// [`CallRequestCallback`], told which call the request relates to.
pub(crate) fn call_request_handler(callback: Arc<CallRequestCallback>, call_id: u32) -> RequestHandler {
    Arc::new(move |request: serde_json::Value| {
        let callback = callback.clone();
        let args = FnArgs::from((call_id, request.to_string()));
        Box::pin(async move {
            match callback.call_async_catch(args).await {
                Ok(promise) => answer(promise.await),
                Err(e) => answer(Err(e)),
            }
        }) as BoxFuture<'static, Result<serde_json::Value, Error>>
    })
}

/// A session's handler of server requests.
pub(crate) fn session_request_handler(callback: SessionRequestCallback) -> RequestHandler {
    js_request_handler!(callback, |json: String| json)
}

/// The bridge's handler of server requests.
pub(crate) fn bridge_request_handler(callback: BridgeRequestCallback) -> BridgeRequestHandler {
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

/// A handler of server notifications.
pub(crate) fn notification_handler(callback: NotificationCallback) -> NotificationHandler {
    let callback = Arc::new(callback);
    Arc::new(move |workspace: &str, message: serde_json::Value| {
        callback.call(
            FnArgs::from((workspace.to_owned(), message.to_string())),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    })
}
