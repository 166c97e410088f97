//! `NativeSession`, the class the JS `Session` wraps: a further MCP session
//! on a workspace, opened with `NativeBridge::session`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bridge_core::jsonrpc::{relayable, Params};
use bridge_core::{Error, SessionHandle};
use napi_derive::napi;

use crate::batch::{Batch, CallFlags};
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
    /// `takeSettled` and `cancel`, its `progress` and `requests` flags),
    /// and returns the same flag. `CLOSED` after [`NativeSession::close`].
    #[napi]
    #[allow(clippy::too_many_arguments)] // the arguments of one JS call, as JS passes them
    pub fn call(
        &self,
        call_id: u32,
        method: String,
        params_json: Option<String>,
        options: Option<NativeCallOptions>,
        cancellable: bool,
        progress: bool,
        requests: bool,
        timed: Option<bool>,
    ) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return self.batch.reject(call_id, Error::Closed);
        }
        let handle = self.handle.clone();
        let flags = CallFlags {
            cancellable,
            progress,
            requests,
            timed: timed.unwrap_or(false),
        };
        self.batch.submit(call_id, params_json, options, flags, |params, options| {
            handle.call_raw(&method, params, options)
        })
    }

    /// Relays one JSON-RPC request as an MCP client sent it (`message`: the
    /// UTF-8 JSON bytes, e.g. a streamable HTTP POST's body), without
    /// building it anew: its params go upstream as the client wrote them.
    /// Queued, flushed, settled and cancelled (always cancellable) as
    /// [`NativeSession::call`], except that JS arranges the flush by
    /// itself (no flag is returned); its outcome is the whole JSON-RPC
    /// response, with the client's id. `principal` and `mcp_session` are
    /// the request log's tags (as in `options`, which may set the rest).
    ///
    /// Returns `[id, method]` for a relayed request, the id as JSON text
    /// (`"abc"` with its quotes, or `17`: how JS's `JSON.stringify` writes
    /// it). An array rather than an object: an object's property names
    /// would be made V8 strings anew on every call.
    ///
    /// Returns `null`, having done nothing, for any message it does not
    /// relay as it came, for the caller to handle (the core's
    /// `jsonrpc::relayable` says which): one that is not a JSON object, a
    /// notification, a response, a request whose `jsonrpc` is not `"2.0"`,
    /// whose id is not a string without escapes or an integer in JS's safe
    /// range written plainly, whose params are not an object or array,
    /// that asks for progress (`params._meta.progressToken`), or whose
    /// method is `initialize`, `ping` or `server/discover`, which an MCP
    /// endpoint answers itself.
    #[napi]
    #[allow(clippy::too_many_arguments)] // the arguments of one JS call, as JS passes them
    pub fn forward(
        &self,
        call_id: u32,
        message: &[u8],
        principal: Option<String>,
        mcp_session: Option<String>,
        options: Option<NativeCallOptions>,
        requests: bool,
    ) -> Option<Vec<String>> {
        let request = relayable(message)?;
        let id: Box<str> = request.id.get().into();
        let method = request.method.into_owned();
        if self.closed.load(Ordering::Acquire) {
            self.batch.reject(call_id, Error::Closed);
        } else {
            // The request log's tags come as arguments: reading them from
            // an options object costs a property lookup each, per call.
            let mut options = options.unwrap_or_default();
            if principal.is_some() {
                options.principal = principal;
            }
            if mcp_session.is_some() {
                options.mcpSession = mcp_session;
            }
            let handle = self.handle.clone();
            let flags = CallFlags {
                cancellable: true,
                progress: false,
                requests,
                timed: false,
            };
            let params = request.params.map(|raw| Params::Raw(raw.to_owned()));
            let upstream = method.clone();
            self.batch.submit_request(
                call_id,
                id.clone(),
                params,
                Some(options),
                flags,
                move |params, options| handle.call_raw(&upstream, params, options),
            );
        }
        Some(vec![id.into(), method])
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
