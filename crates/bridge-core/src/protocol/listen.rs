//! The sessionless revision's `subscriptions/listen` (MCP 2026-07-28,
//! Basic / Utilities / Subscriptions), which carries what the `GET` stream
//! and `resources/subscribe` carried before: a long-lived request whose
//! stream brings the list-change notifications and the updates of the
//! subscribed resources, each with the request's id in
//! `_meta["io.modelcontextprotocol/subscriptionId"]`. The server first
//! answers with `notifications/subscriptions/acknowledged` naming what it
//! will send, and ends the stream with the request's result (a graceful
//! close), or drops it.
//!
//! A sessionless session keeps one such request open ([`Listener`]): it
//! asks for every list change and for the resources its
//! [`SessionState`] has subscribed, and opens it again after it ends (after
//! 100 ms doubling to 30 s, with jitter; at once when a subscription
//! changes). A server that does not know the method (-32601) gets no more.
//! The notifications reach the session's inbox as any other; the
//! acknowledgment is consumed here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::{oneshot, watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::error::{Error, Result};
use crate::jsonrpc::{Outgoing, Params};
use crate::pending::Reply;
use crate::protocol::handshake;
use crate::protocol::replay::SessionState;
use crate::transport::{SendError, Transport};

/// The method.
pub(crate) const LISTEN: &str = "subscriptions/listen";
/// The server's acknowledgment of a listen request.
pub(crate) const ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
/// The `_meta` key naming the listen request a message belongs to.
const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The listen request a sessionless session keeps open.
pub(crate) struct Listener {
    /// The id of the listen request the server last acknowledged, and what
    /// it said it will send.
    /// Or why the listen request of that id failed before any acknowledgment.
    acknowledged: watch::Sender<Option<(u64, std::result::Result<Value, String>)>>,
    /// Opens the request again, with the subscriptions as they are now.
    restart: Notify,
    /// Ends the listening for good.
    closed: CancellationToken,
    ids: Arc<AtomicU64>,
    /// The listen request open now and where its response goes: it is no
    /// call (it counts in no pending map, so a session with it is idle).
    open: parking_lot::Mutex<Option<(u64, oneshot::Sender<Reply>)>>,
}

/// What the listen task sends on.
pub(crate) struct Wiring {
    pub transport: Arc<dyn Transport>,
    pub envelope: Map<String, Value>,
    pub state: Arc<SessionState>,
    pub workspace: String,
}

impl Listener {
    /// Starts listening on `wiring`; request ids come from `ids`.
    pub(crate) fn start(wiring: Wiring, ids: Arc<AtomicU64>) -> Arc<Listener> {
        let listener = Arc::new(Listener {
            acknowledged: watch::Sender::new(None),
            restart: Notify::new(),
            closed: CancellationToken::new(),
            ids,
            open: parking_lot::Mutex::new(None),
        });
        tokio::spawn(listener.clone().run(wiring));
        listener
    }

    /// Takes the response (or the failure to read one) to request `id` when
    /// it is the listen request open now; false for any other id.
    pub(crate) fn settle(&self, id: &Value, reply: impl FnOnce() -> Reply) -> bool {
        let mut open = self.open.lock();
        if open
            .as_ref()
            .is_none_or(|(current, _)| id.as_u64() != Some(*current))
        {
            return false;
        }
        if let Some((_, sender)) = open.take() {
            let _ = sender.send(reply());
        }
        true
    }

    /// Takes the server's acknowledgment (the notification's params).
    pub(crate) fn acknowledge(&self, params: &Value) {
        let Some(id) = params
            .get("_meta")
            .and_then(|m| m.get(SUBSCRIPTION_ID))
            .and_then(Value::as_u64)
        else {
            return;
        };
        let honored = params
            .get("notifications")
            .cloned()
            .unwrap_or_else(|| json!({}));
        self.acknowledged.send_replace(Some((id, Ok(honored))));
    }

    /// Opens the listen request again with the session's subscriptions as
    /// they are now, and resolves with what the server acknowledged for it.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when the listening ended first;
    /// [`Error::Transport`] when the new listen request failed before the
    /// server acknowledged it.
    pub(crate) async fn renew(&self) -> Result<Value> {
        let floor = self.ids.load(Ordering::Relaxed);
        let mut acknowledged = self.acknowledged.subscribe();
        self.restart.notify_one();
        tokio::select! {
            seen = acknowledged.wait_for(|a| a.as_ref().is_some_and(|(id, _)| *id >= floor)) => match seen {
                Ok(seen) => match seen.as_ref().map(|(_, outcome)| outcome.clone()) {
                    Some(Ok(honored)) => Ok(honored),
                    Some(Err(why)) => Err(Error::Transport(format!("subscriptions/listen failed: {why}"))),
                    None => Ok(Value::default()),
                },
                Err(_) => Err(Error::Closed),
            },
            _ = self.closed.cancelled() => Err(Error::Closed),
        }
    }

    /// Ends the listening (and the request in flight); idempotent.
    pub(crate) fn close(&self) {
        self.closed.cancel();
    }

    async fn run(self: Arc<Self>, wiring: Wiring) {
        let mut retry = Backoff::new(RETRY_FIRST, 2, RETRY_MAX);
        loop {
            let id = self.ids.fetch_add(1, Ordering::Relaxed);
            let request = match self.request(id, &wiring) {
                Ok(request) => request,
                Err(e) => {
                    tracing::warn!(workspace = wiring.workspace, error = %e, "subscriptions/listen not sent");
                    return;
                }
            };
            let (reply, replied) = oneshot::channel();
            *self.open.lock() = Some((id, reply));
            let open = async {
                // Over HTTP the send lasts as long as the stream.
                wiring.transport.send(request).await?;
                replied
                    .await
                    .unwrap_or(Err(SendError::delivered(Error::Closed)))
            };
            let outcome = tokio::select! {
                outcome = open => Some(outcome),
                _ = self.restart.notified() => None,
                _ = self.closed.cancelled() => {
                    self.open.lock().take();
                    self.cancel(&wiring, id);
                    return;
                }
            };
            self.open.lock().take();
            let acknowledged = self
                .acknowledged
                .borrow()
                .as_ref()
                .is_some_and(|(last, _)| *last == id);
            match outcome {
                // A subscription changed: the new request goes at once.
                None => {
                    self.cancel(&wiring, id);
                    continue;
                }
                Some(Err(SendError {
                    error: Error::JsonRpc { code: -32601, .. },
                    ..
                })) => {
                    tracing::debug!(
                        workspace = wiring.workspace,
                        "the server does not serve subscriptions/listen"
                    );
                    // Waiters, now and later, get the empty acknowledgment:
                    // nothing honored.
                    self.acknowledged.send_replace(Some((id, Ok(json!({})))));
                    loop {
                        tokio::select! {
                            _ = self.restart.notified() => {
                                let id = self.ids.fetch_add(1, Ordering::Relaxed);
                                self.acknowledged.send_replace(Some((id, Ok(json!({})))));
                            }
                            _ = self.closed.cancelled() => return,
                        }
                    }
                }
                Some(Ok(_)) => tracing::debug!(
                    workspace = wiring.workspace,
                    "subscriptions/listen ended by the server"
                ),
                Some(Err(e)) => {
                    tracing::debug!(workspace = wiring.workspace, error = %e.error, "subscriptions/listen failed");
                    if !acknowledged {
                        // Waiters for this request learn it failed.
                        self.acknowledged
                            .send_replace(Some((id, Err(e.error.to_string()))));
                    }
                }
            }
            if acknowledged {
                retry = Backoff::new(RETRY_FIRST, 2, RETRY_MAX);
            }
            let delay = retry.next().unwrap_or(RETRY_MAX);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.restart.notified() => {}
                _ = self.closed.cancelled() => return,
            }
        }
    }

    /// The listen request: every list change, and the subscribed resources.
    fn request(&self, id: u64, wiring: &Wiring) -> Result<Outgoing> {
        let mut notifications = json!({ "toolsListChanged": true, "promptsListChanged": true, "resourcesListChanged": true });
        let uris = wiring.state.subscriptions();
        if !uris.is_empty() {
            notifications["resourceSubscriptions"] = json!(uris);
        }
        let mut params = json!({ "notifications": notifications });
        handshake::stamp(&wiring.envelope, &mut params);
        Outgoing::request(id, LISTEN, Some(&Params::Value(params)), false)
    }

    /// Over stdio the request stays open on the server until cancelled;
    /// over HTTP dropping its stream was enough (the transport sends no
    /// notification there).
    fn cancel(&self, wiring: &Wiring, id: u64) {
        let transport = wiring.transport.clone();
        let notification = Outgoing::notification(
            "notifications/cancelled",
            Some(json!({ "requestId": id, "reason": "subscriptions changed or session closed" })),
        );
        tokio::spawn(async move {
            let _ = transport.send(notification).await;
        });
    }
}
