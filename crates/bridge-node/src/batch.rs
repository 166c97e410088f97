//! How calls cross the N-API boundary.
//!
//! # Theory of operation: calls cross in batches
//!
//! A call crosses the boundary twice: from Node's main thread to the tokio
//! runtime, and back with its outcome. Each crossing would otherwise cost a
//! thread wake-up per call (an `eventfd` write to the parked tokio worker, a
//! `uv_async_send` and a callback scope on Node's side), which on a small
//! machine costs more than the call's own work. Both directions are batched
//! instead:
//!
//! - **Out.** [`NativeBridge::call`](crate::NativeBridge::call) checks the
//!   arguments and admits the call to its workspace's queue at once, on the
//!   JS thread (so calls keep their order and their deadlines count from the
//!   call), then parks the rest of its work in the *submitted* list. It
//!   returns `true` when the list was empty: the caller then owes one
//!   [`NativeBridge::flush`](crate::NativeBridge::flush), which the JS
//!   wrapper makes in a `setImmediate` callback: after the phase of Node's
//!   event loop that made the calls, so that the calls of every I/O
//!   callback of one poll (e.g. every HTTP request that arrived together)
//!   share it (a stop, restart or removal flushes first, so that it acts
//!   on every call made before it). A microtask would flush after
//!   each callback: under load,
//!   one wake-up per call, which measured 12 µs more tokio CPU and 15 µs
//!   more JS CPU per call behind the Express endpoint (BENCHMARKS.md, "The
//!   MCP endpoint's own cost"). The flush spawns a task per call, in call
//!   order, back to back: the first wakes the parked worker, and the rest
//!   find it awake (one wake-up per batch rather than per call).
//! - **Back.** A settled call's outcome goes into the *settled* list; when
//!   that list was empty, the runtime rings the constructor's `on_settle`
//!   doorbell (a threadsafe function without arguments). JS answers the
//!   doorbell with
//!   [`NativeBridge::take_settled`](crate::NativeBridge::take_settled),
//!   which hands over every outcome settled by then. A ring is made whenever
//!   the list turns non-empty, and each take empties it, so every outcome is
//!   taken by the take that answers its ring or by an earlier one; a ring
//!   that finds the list empty takes nothing.
//!
//! Under load both lists hold many calls per crossing; one call at a time
//! costs the same wake-ups as an unbatched design plus one synchronous
//! crossing (`take_settled`). A session's calls (`NativeSession`) share their
//! bridge's lists, flush and doorbell.
//!
//! A call's progress and its server requests reach JS through two functions
//! of the bridge too ([`CallHooks`]), told the call id: a threadsafe
//! function made per call would cost its creation, and its release on the
//! JS thread, for every call that might get one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bridge_core::jsonrpc::Params;
use bridge_core::call::CallTags;
use bridge_core::{CallOptions, Error, Priority, Progress};
use napi::bindgen_prelude::{Either, FnArgs};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::callbacks::{
    call_request_handler, CallProgressCallback, CallRequestCallback, ProgressUpdate,
    SettleCallback,
};
use crate::error::{failure, text_outcome, NativeError, Outcome};
use crate::options::NativeCallOptions;
use crate::BoxFuture;

/// The calls of one bridge and its sessions on their way across the
/// boundary: submitted and not yet flushed, settled and not yet taken, and
/// the cancellation tokens of calls that may be aborted, by call id.
pub(crate) struct Batch {
    /// Calls admitted since the last [`Batch::flush`].
    submitted: Mutex<Vec<(u32, BoxFuture<'static, Settle>)>>,
    settled: Arc<Settled>,
    cancels: Arc<Mutex<HashMap<u32, CancellationToken>>>,
    hooks: Arc<CallHooks>,
}

/// The JS functions every call of a bridge and its sessions shares, told
/// the call id: progress, and server requests related to a call. Absent,
/// calls asking for them get none.
pub(crate) struct CallHooks {
    pub(crate) progress: Option<CallProgressCallback>,
    pub(crate) requests: Option<Arc<CallRequestCallback>>,
}

/// What a call asks for besides its outcome: to be cancellable (by
/// [`Batch::cancel`]), its progress, its server requests (through
/// [`CallHooks`]), its queue wait ([`SettledCalls::queue_ms`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct CallFlags {
    pub(crate) cancellable: bool,
    pub(crate) progress: bool,
    pub(crate) requests: bool,
    pub(crate) timed: bool,
}

impl Batch {
    /// An empty batch whose settled outcomes ring `doorbell`.
    pub(crate) fn new(doorbell: SettleCallback, hooks: CallHooks) -> Self {
        Batch {
            submitted: Mutex::default(),
            settled: Arc::new(Settled {
                outcomes: Mutex::default(),
                doorbell,
            }),
            cancels: Arc::default(),
            hooks: Arc::new(hooks),
        }
    }

    /// Checks a call's arguments and admits it (`make` queues it in its
    /// workspace), then parks the rest of its work until the next flush.
    /// Returns `true` when the submitted list was empty: the caller then
    /// owes one flush. Its outcome is the result's text, as the server
    /// wrote it.
    pub(crate) fn submit<F>(
        &self,
        call_id: u32,
        params_json: Option<String>,
        options: Option<NativeCallOptions>,
        flags: CallFlags,
        make: impl FnOnce(Option<Params>, CallOptions) -> F,
    ) -> bool
    where
        F: std::future::Future<Output = Result<Box<serde_json::value::RawValue>, Error>>
            + Send
            + 'static,
    {
        // Checked, not parsed: the text goes into the request as it is.
        let outcome = match params_json.map(Params::from_json).transpose() {
            Ok(params) => start_call(&self.cancels, &self.hooks, call_id, params, options, flags, None, make),
            Err(e) => ready(failure(e)),
        };
        self.park(call_id, outcome)
    }

    /// As [`Batch::submit`] for a JSON-RPC request relayed as it came
    /// (`NativeSession::forward`): its outcome is the whole JSON-RPC
    /// response, `{"jsonrpc":"2.0","id":<id_json>,"result":<result>}`.
    pub(crate) fn submit_request<F>(
        &self,
        call_id: u32,
        id_json: Box<str>,
        params: Option<Params>,
        options: Option<NativeCallOptions>,
        flags: CallFlags,
        make: impl FnOnce(Option<Params>, CallOptions) -> F,
    ) -> bool
    where
        F: std::future::Future<Output = Result<Box<serde_json::value::RawValue>, Error>>
            + Send
            + 'static,
    {
        let outcome = start_call(&self.cancels, &self.hooks, call_id, params, options, flags, Some(id_json), make);
        self.park(call_id, outcome)
    }

    /// Parks a call that failed before it was admitted.
    pub(crate) fn reject(&self, call_id: u32, error: Error) -> bool {
        self.park(call_id, ready(failure(error)))
    }

    fn park(&self, call_id: u32, outcome: BoxFuture<'static, Settle>) -> bool {
        let mut submitted = self.submitted.lock().expect("submitted list");
        submitted.push((call_id, outcome));
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
    pub(crate) fn flush(&self) {
        let batch = std::mem::take(&mut *self.submitted.lock().expect("submitted list"));
        for (call_id, outcome) in batch {
            let settled = self.settled.clone();
            napi::bindgen_prelude::spawn(async move { settled.push(call_id, outcome.await) });
        }
    }

    /// Takes every outcome settled since the last take, oldest first.
    pub(crate) fn take_settled(&self) -> SettledCalls {
        let outcomes = std::mem::take(&mut *self.settled.outcomes.lock().expect("settled list"));
        let mut calls = SettledCalls {
            ids: Vec::with_capacity(outcomes.len()),
            outcomes: Vec::with_capacity(outcomes.len()),
            queue_ms: None,
        };
        let timed = outcomes.iter().any(|(_, settle)| settle.queue_ms.is_some());
        if timed {
            calls.queue_ms = Some(outcomes.iter().map(|(_, settle)| settle.queue_ms.unwrap_or(f64::NAN)).collect());
        }
        for (call_id, Settle { outcome, .. }) in outcomes {
            calls.ids.push(call_id);
            calls.outcomes.push(match outcome {
                Outcome {
                    error: Some(error), ..
                } => Either::B(error),
                Outcome {
                    result,
                    error: None,
                } => Either::A(result.unwrap_or_else(|| "null".to_owned())),
            });
        }
        calls
    }

    /// Aborts the cancellable call `call_id`, also before it has started
    /// (its token is made when it is submitted). Does nothing for a call
    /// that has settled, or was never cancellable: a token made here would
    /// stay in the map, and abort the next call that reuses the id.
    pub(crate) fn cancel(&self, call_id: u32) {
        if let Some(token) = self.cancels.lock().expect("cancel map").get(&call_id) {
            token.cancel();
        }
    }
}

fn ready(outcome: Outcome) -> BoxFuture<'static, Settle> {
    Box::pin(std::future::ready(Settle { outcome, queue_ms: None }))
}

/// A settled call: its outcome and, when it was timed, its queue wait (ms).
pub(crate) struct Settle {
    outcome: Outcome,
    queue_ms: Option<f64>,
}

fn millis(value: Option<f64>, name: &str) -> Result<Option<Duration>, Error> {
    match value {
        None => Ok(None),
        Some(ms) if ms.is_finite() && ms >= 1.0 => Ok(Some(Duration::from_millis(ms as u64))),
        Some(ms) => Err(Error::InvalidArgument(format!(
            "{name} must be at least 1 ms, got {ms}"
        ))),
    }
}

/// The synchronous part of a native call: checks the arguments and queues
/// the call (`make`); the returned future does the rest. A cancellable
/// call may be aborted by [`Batch::cancel`] with its call id (JS makes a
/// call with an `AbortSignal` cancellable). With `response_id`, the
/// outcome is the JSON-RPC response to a request of that id (its JSON
/// text) rather than the result alone.
#[allow(clippy::too_many_arguments)] // a call's arguments and the batch's parts
fn start_call<F>(
    cancels: &Arc<Mutex<HashMap<u32, CancellationToken>>>,
    hooks: &Arc<CallHooks>,
    call_id: u32,
    params: Option<Params>,
    options: Option<NativeCallOptions>,
    flags: CallFlags,
    response_id: Option<Box<str>>,
    make: impl FnOnce(Option<Params>, CallOptions) -> F,
) -> BoxFuture<'static, Settle>
where
    F: std::future::Future<Output = Result<Box<serde_json::value::RawValue>, Error>>
        + Send
        + 'static,
{
    let options = options.unwrap_or_default();
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
        millis(options.timeoutMs, "timeoutMs"),
        millis(options.maxTotalTimeoutMs, "maxTotalTimeoutMs"),
    ) {
        (Ok(t), Ok(m)) => (t, m),
        (Err(e), _) | (_, Err(e)) => return ready(failure(e)),
    };
    let cancellable = flags.cancellable;
    let cancel = cancellable.then(|| {
        // An abort may arrive before this task runs: the token is made now,
        // at submission, for `Batch::cancel` to find.
        cancels
            .lock()
            .expect("cancel map")
            .entry(call_id)
            .or_default()
            .clone()
    });

    // Progress goes through a channel only when JS asked for it.
    let (on_progress_core, mut progress_rx) = match flags.progress && hooks.progress.is_some() {
        false => (None, None),
        true => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
            let handler = Box::new(move |p: Progress| {
                let _ = tx.send(p);
            }) as bridge_core::call::ProgressHandler;
            (Some(handler), Some(rx))
        }
    };
    let on_request = match (&hooks.requests, flags.requests) {
        (Some(callback), true) => Some(call_request_handler(callback.clone(), call_id)),
        _ => None,
    };
    let queue_wait = flags.timed.then(|| Arc::new(AtomicU64::new(u64::MAX)));
    let call_options = CallOptions {
        priority,
        timeout,
        reset_timeout_on_progress: options.resetTimeoutOnProgress.unwrap_or(false),
        max_total_timeout,
        cancel,
        on_progress: on_progress_core,
        on_request,
        tags: CallTags {
            principal: options.principal.clone(),
            session: options.mcpSession.clone(),
        },
        queue_wait: queue_wait.clone(),
    };
    let call = make(params, call_options);
    let cancels = cancels.clone();
    let hooks = hooks.clone();
    Box::pin(async move {
        // Deliver every progress update to JS, in order, before resolving.
        let deliver = async {
            if let (Some(callback), Some(progress_rx)) = (&hooks.progress, progress_rx.as_mut()) {
                while let Some(p) = progress_rx.recv().await {
                    let update = ProgressUpdate {
                        progress: p.progress,
                        total: p.total,
                        message: p.message,
                    };
                    let _ = callback.call_async_catch(FnArgs::from((call_id, update))).await;
                }
            }
        };
        let (result, ()) = tokio::join!(call, deliver);
        if cancellable {
            cancels.lock().expect("cancel map").remove(&call_id);
        }
        // Still unset when the call failed before reaching a workspace
        // (`UNKNOWN_WORKSPACE`, `CLOSED`): no queue wait then.
        let queue_ms = queue_wait
            .map(|micros| micros.load(Ordering::Relaxed))
            .filter(|&micros| micros != u64::MAX)
            .map(|micros| micros as f64 / 1000.0);
        let text = result.map(|raw| match response_id {
            None => String::from(Box::<str>::from(raw)),
            Some(id) => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{}}}"#, raw.get()),
        });
        Settle { outcome: text_outcome(text), queue_ms }
    })
}

/// Outcomes settled on the runtime and not yet taken by JS, with the
/// doorbell that tells JS to take them (see the crate docs).
struct Settled {
    outcomes: Mutex<Vec<(u32, Settle)>>,
    doorbell: SettleCallback,
}

impl Settled {
    /// Adds the outcome of call `call_id`; rings when the list was empty.
    fn push(&self, call_id: u32, outcome: Settle) {
        let was_empty = {
            let mut outcomes = self.outcomes.lock().expect("settled list");
            outcomes.push((call_id, outcome));
            outcomes.len() == 1
        };
        if was_empty {
            self.doorbell
                .call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// Outcomes handed to JS by [`NativeBridge::take_settled`]: `outcomes[i]`
/// settles the call whose id is `ids[i]`.
#[napi(object)]
pub struct SettledCalls {
    /// Call ids, as given to `call`.
    pub ids: Vec<u32>,
    /// JSON text of the result (as the server wrote it), or the failure.
    pub outcomes: Vec<Either<String, NativeError>>,
    /// When a call of the batch was timed: `queueMs[i]` is the time the
    /// call `ids[i]` waited in its workspace's queue, in ms (`NaN` for a
    /// call that was not timed). Absent otherwise.
    pub queue_ms: Option<Vec<f64>>,
}
