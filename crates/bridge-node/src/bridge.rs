//! `NativeBridge`, the class the JS `Bridge` wraps.

use std::sync::Arc;
use std::time::Duration;

use bridge_core::request_log::{RequestFilter, RequestLog};
use bridge_core::{Bridge, BridgeHandlers, ClientIdentity, Error};
use napi::bindgen_prelude::{Either, Object};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Env;
use napi_derive::napi;

use crate::batch::{Batch, CallFlags, CallHooks, SettledCalls};
use crate::callbacks::{
    bridge_request_handler, notification_handler, session_request_handler, BridgeRequestCallback,
    CallProgressCallback, CallRequestCallback, EventCallback, LogCallback, NotificationCallback,
    SessionRequestCallback, SettleCallback,
};
use crate::error::{error, json_outcome, outcome, NativeError, Outcome};
use crate::options::{bridge_config, refused, workspace_spec, NativeCallOptions};
use crate::session::NativeSession;

/// A grace period given in ms from JS (negative counts as 0).
fn grace(ms: f64) -> Duration {
    Duration::from_millis(ms.max(0.0) as u64)
}

/// A watch of a workspace's output lines (`NativeBridge::watchLogs`).
#[napi]
pub struct NativeLogWatch {
    /// JSON text of the lines before the watch began (`[{ at, stream, line }]`).
    #[napi(readonly)]
    pub tail: String,
    watch: Option<bridge_core::logs::LogWatch>,
}

#[napi]
impl NativeLogWatch {
    /// Ends the watch; idempotent.
    #[napi]
    pub fn close(&mut self) {
        self.watch.take();
    }
}

/// The native bridge; use the `Bridge` class of the JS package instead.
#[napi]
pub struct NativeBridge {
    inner: Arc<Bridge>,
    /// The calls of the bridge and its sessions crossing the boundary.
    batch: Arc<Batch>,
}

#[napi]
impl NativeBridge {
    /// Creates a bridge from its options (see the `options` module).
    ///
    /// Throws `INVALID_ARGUMENT: …` when the options are malformed.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "BridgeOptions")] options: Object,
        on_settle: SettleCallback,
        on_notification: Option<NotificationCallback>,
        on_request: Option<BridgeRequestCallback>,
        on_event: Option<EventCallback>,
        on_call_progress: Option<CallProgressCallback>,
        on_call_request: Option<CallRequestCallback>,
    ) -> napi::Result<Self> {
        let config = bridge_config(&env, &options)?;
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
            inner: Arc::new(Bridge::new(config, handlers).map_err(refused)?),
            batch: Arc::new(Batch::new(
                on_settle,
                CallHooks {
                    progress: on_call_progress,
                    requests: on_call_request.map(Arc::new),
                },
            )),
        })
    }

    /// Sends a JSON-RPC request; `params_json` is JSON text or absent.
    /// The call is admitted to its workspace's queue before this returns,
    /// so calls keep their order; it is sent after the next
    /// [`NativeBridge::flush`], and its outcome, under `call_id`, comes from
    /// [`NativeBridge::take_settled`]; a cancellable call is aborted by
    /// [`NativeBridge::cancel`] with the same id. With `progress`, its
    /// progress updates reach the constructor's `on_call_progress` before
    /// the call settles; with `requests`, server requests related to it go
    /// to `on_call_request` (else to the bridge's handler). A `timed`
    /// call's queue wait comes with its outcome (`SettledCalls.queueMs`).
    ///
    /// Returns `true` when this call is the first since the last flush:
    /// the caller must then arrange one `flush()`.
    #[napi]
    #[allow(clippy::too_many_arguments)] // the arguments of one JS call, as JS passes them
    pub fn call(
        &self,
        call_id: u32,
        workspace_id: String,
        method: String,
        params_json: Option<String>,
        options: Option<NativeCallOptions>,
        cancellable: bool,
        progress: bool,
        requests: bool,
        timed: Option<bool>,
    ) -> bool {
        let bridge = self.inner.clone();
        let flags = CallFlags {
            cancellable,
            progress,
            requests,
            timed: timed.unwrap_or(false),
        };
        self.batch.submit(call_id, params_json, options, flags, |params, options| {
            bridge.call_raw(&workspace_id, &method, params, options)
        })
    }

    /// Hands every call submitted since the last flush, of the bridge and
    /// its sessions, to the runtime, in the order they were made (see
    /// the `batch` module).
    #[napi]
    pub fn flush(&self) {
        self.batch.flush();
    }

    /// Takes every outcome settled since the last take (after a ring of
    /// the constructor's `on_settle`), oldest first; empty when an earlier
    /// take already had them.
    #[napi]
    pub fn take_settled(&self) -> SettledCalls {
        self.batch.take_settled()
    }

    /// Opens a further MCP session on a workspace's process with its own
    /// `clientInfo` and capabilities (JSON text) and request handler; the
    /// failure when the workspace is unknown or the options malformed.
    #[napi]
    pub fn session(
        &self,
        workspace_id: String,
        client_info_json: Option<String>,
        capabilities_json: Option<String>,
        on_request: Option<SessionRequestCallback>,
        on_notification: Option<NotificationCallback>,
    ) -> Either<NativeSession, NativeError> {
        let mut identity = ClientIdentity::default();
        for (json, slot) in [
            (client_info_json, &mut identity.client_info),
            (capabilities_json, &mut identity.capabilities),
        ] {
            match json.as_deref().map(serde_json::from_str) {
                None => {}
                Some(Ok(value)) => *slot = value,
                Some(Err(e)) => {
                    return Either::B(error(Error::InvalidArgument(format!(
                        "session options: {e}"
                    ))))
                }
            }
        }
        let notifications = on_notification.map(notification_handler);
        match self.inner.session(
            &workspace_id,
            identity,
            on_request.map(session_request_handler),
            notifications,
        ) {
            Ok(handle) => Either::A(NativeSession::new(handle, self.batch.clone())),
            Err(e) => Either::B(error(e)),
        }
    }

    /// Aborts the cancellable call `call_id` (of the bridge or one of its
    /// sessions): it rejects with `ABORTED`, and the server is sent
    /// `notifications/cancelled` if the request was sent.
    #[napi]
    pub fn cancel(&self, call_id: u32) {
        self.batch.cancel(call_id);
    }

    /// The workspace server's `InitializeResult`, starting it if needed.
    #[napi]
    pub async fn server_info(&self, workspace_id: String) -> Outcome {
        let bridge = self.inner.clone();
        outcome(bridge.server_info(&workspace_id).await)
    }

    /// Adds a workspace at run time; `spec` as one entry of the
    /// `workspaces` option. Throws `INVALID_ARGUMENT: …` when it is
    /// malformed; other failures are the outcome's.
    #[napi]
    pub fn add_workspace(
        &self,
        env: Env,
        workspace_id: String,
        #[napi(ts_arg_type = "WorkspaceOptions")] spec: Object,
    ) -> napi::Result<Outcome> {
        let spec = workspace_spec(&env, &workspace_id, &spec)?;
        Ok(json_outcome(self.inner.add_workspace(&workspace_id, spec)))
    }

    /// Checks a workspace's options as `addWorkspace` would, adding nothing.
    /// Throws `INVALID_ARGUMENT: …` when they are malformed; the outcome
    /// holds the other refusals.
    #[napi]
    pub fn check_workspace(
        &self,
        env: Env,
        workspace_id: String,
        #[napi(ts_arg_type = "WorkspaceOptions")] spec: Object,
    ) -> napi::Result<Outcome> {
        let spec = workspace_spec(&env, &workspace_id, &spec)?;
        Ok(json_outcome(self.inner.check_workspace(&workspace_id, &spec).map(|()| serde_json::Value::Null)))
    }

    /// Removes a workspace, stopping its process with a grace period in ms.
    #[napi]
    pub async fn remove_workspace(&self, workspace_id: String, grace_ms: f64) -> Outcome {
        let bridge = self.inner.clone();
        json_outcome(
            bridge
                .remove_workspace(&workspace_id, grace(grace_ms))
                .await,
        )
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

    /// Calls `on_line` with the JSON text of each line the workspace's
    /// processes write from now on, until the watch is closed (or
    /// collected); the watch holds the last `tail` lines before them. The
    /// failure (`UNKNOWN_WORKSPACE`) otherwise.
    #[napi]
    pub fn watch_logs(&self, workspace_id: String, tail: u32, on_line: LogCallback) -> Either<NativeLogWatch, NativeError> {
        let on_line = Arc::new(on_line);
        let watcher = Arc::new(move |line: &bridge_core::logs::LogLine| {
            let json = serde_json::to_string(line).expect("serializable");
            on_line.call(json, ThreadsafeFunctionCallMode::NonBlocking);
        });
        match self.inner.watch_logs(&workspace_id, tail as usize, watcher) {
            Ok((tail, watch)) => Either::A(NativeLogWatch {
                tail: serde_json::to_string(&tail).expect("serializable"),
                watch: Some(watch),
            }),
            Err(e) => Either::B(error(e)),
        }
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

    /// JSON text of a page of the request log (`{ entries, cursor }`),
    /// newest first; `filter_json`: the JS filter, times in ms.
    #[napi]
    pub async fn requests(&self, filter_json: String) -> Outcome {
        read_log(self.inner.clone(), filter_json, RequestLog::query).await
    }

    /// JSON text of the request log's figures per workspace and tool.
    #[napi]
    pub async fn request_stats(&self, filter_json: String) -> Outcome {
        read_log(self.inner.clone(), filter_json, RequestLog::stats).await
    }

    /// Entries the request log dropped because its writer was behind;
    /// `null` without a request log.
    #[napi]
    pub fn request_log_dropped(&self) -> Option<f64> {
        self.inner.request_log().map(|log| log.dropped() as f64)
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

/// The bridge's request log, or `INVALID_ARGUMENT` without one.
fn request_log(bridge: &Bridge) -> Result<&Arc<RequestLog>, Error> {
    bridge
        .request_log()
        .ok_or_else(|| Error::InvalidArgument("the bridge keeps no request log: set the requestLog option".into()))
}

/// `read` of the bridge's request log with the JS filter `filter_json`,
/// run off the runtime's threads (SQLite blocks), as JSON text.
async fn read_log<T: serde::Serialize + Send + 'static>(
    bridge: Arc<Bridge>,
    filter_json: String,
    read: fn(&RequestLog, &RequestFilter) -> Result<T, Error>,
) -> Outcome {
    let read = move || read(request_log(&bridge)?, &request_filter(&filter_json)?);
    json_outcome(
        tokio::task::spawn_blocking(read)
            .await
            .unwrap_or_else(|e| Err(Error::InvalidArgument(format!("request log read failed: {e}")))),
    )
}

/// The core filter of the JS one (`{ workspace, method, name, outcome,
/// since, until, limit, cursor }`, times in ms since the Unix epoch).
fn request_filter(json: &str) -> Result<RequestFilter, Error> {
    use bridge_core::request_log::{Outcome as LogOutcome, MAX_PAGE};
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Filter {
        workspace: Option<String>,
        method: Option<String>,
        name: Option<String>,
        outcome: Option<String>,
        since: Option<f64>,
        until: Option<f64>,
        limit: Option<f64>,
        cursor: Option<f64>,
    }
    let bad = |what: String| Error::InvalidArgument(format!("request log filter: {what}"));
    let filter: Filter = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let whole = |value: Option<f64>, name: &str| -> Result<Option<i64>, Error> {
        match value {
            None => Ok(None),
            Some(n) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 => Ok(Some(n as i64)),
            Some(n) => Err(bad(format!("{name} must be a whole number, got {n}"))),
        }
    };
    let limit = whole(filter.limit, "limit")?;
    if limit.is_some_and(|l| l < 1 || l as usize > MAX_PAGE) {
        return Err(bad(format!("limit must be 1 to {MAX_PAGE}")));
    }
    let outcome = filter
        .outcome
        .map(|o| LogOutcome::parse(&o).ok_or_else(|| bad(format!("outcome must be 'ok', 'error' or 'cancelled', got {o:?}"))))
        .transpose()?;
    Ok(RequestFilter {
        workspace: filter.workspace,
        method: filter.method,
        name: filter.name,
        outcome,
        since: whole(filter.since, "since")?,
        until: whole(filter.until, "until")?,
        limit: limit.map(|l| l as usize),
        cursor: whole(filter.cursor, "cursor")?,
    })
}
