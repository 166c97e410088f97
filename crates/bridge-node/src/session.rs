//! `NativeSession`, the class the JS `Session` wraps: a further MCP session
//! on a workspace, opened with `NativeBridge::session`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bridge_core::{Error, SessionHandle};
use napi_derive::napi;

use crate::batch::Batch;
use crate::callbacks::{CallRequestCallback, ProgressCallback};
use crate::error::{outcome, Outcome};
use crate::options::NativeCallOptions;

/// A further MCP session; use the `Session` class of the JS package
/// instead. Its calls cross the boundary with those of its bridge.
#[napi]
pub struct NativeSession {
    handle: Arc<SessionHandle>,
    /// The bridge's calls in flight across the boundary.
    batch: Arc<Batch>,
    /// Set by [`NativeSession::close`]: later calls fail with `CLOSED`
    /// (over stdio the handle would otherwise go on through the process's
    /// one MCP session).
    closed: AtomicBool,
}

impl NativeSession {
    pub(crate) fn new(handle: Arc<SessionHandle>, batch: Arc<Batch>) -> Self {
        NativeSession {
            handle,
            batch,
            closed: AtomicBool::new(false),
        }
    }
}

#[napi]
impl NativeSession {
    /// Sends a JSON-RPC request on this session; queued, flushed, settled
    /// and cancelled as `NativeBridge::call` is (the bridge's `flush`,
    /// `takeSettled` and `cancel`), and returns the same flag. `CLOSED`
    /// after [`NativeSession::close`].
    #[napi]
    #[allow(clippy::too_many_arguments)] // the arguments of one JS call, as JS passes them
    pub fn call(
        &self,
        call_id: u32,
        method: String,
        params_json: Option<String>,
        options: Option<NativeCallOptions>,
        cancellable: bool,
        on_progress: Option<ProgressCallback>,
        on_request: Option<CallRequestCallback>,
        timed: Option<bool>,
    ) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return self.batch.reject(call_id, Error::Closed);
        }
        let handle = self.handle.clone();
        self.batch.submit(
            call_id,
            params_json,
            options,
            cancellable,
            on_progress,
            on_request,
            timed.unwrap_or(false),
            |params, options| handle.call_raw(&method, params, options),
        )
    }

    /// The `InitializeResult` of this MCP session.
    #[napi]
    pub async fn server_info(&self) -> Outcome {
        if self.closed.load(Ordering::Acquire) {
            return crate::error::failure(Error::Closed);
        }
        outcome(self.handle.server_info().await)
    }

    /// Ends the MCP session; its calls fail with `CLOSED`. Idempotent.
    #[napi]
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.handle.close().await;
    }
}
