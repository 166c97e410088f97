//! Request correlation: JSON-RPC responses and MCP progress notifications
//! matched to the calls waiting for them.
//!
//! Each request the core sends has a unique numeric id. The waiting call
//! registers a reply channel under that id (and, when it wants progress, a
//! progress channel: its progress token is the request id). Whatever
//! settles the entry first wins: the response, a send failure, or the call
//! itself giving up (timeout, abort, close) by removing it. Inserting a
//! duplicate id gives the entry back; completing an unknown id returns
//! `false` and is logged by the caller, never a panic.

use std::collections::HashMap;

use parking_lot::Mutex;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::call::{Progress, RequestHandler};
use crate::error::Error;
use crate::jsonrpc::{Incoming, Message};
use crate::transport::SendError;

/// What settles a call: the `result` of the server's response, as the
/// server's JSON text, or why there is none: the server's error response
/// ([`Error::JsonRpc`]), a malformed one ([`Error::Protocol`]), or a failure
/// to send or read (with whether the server may have seen the request).
pub type Reply = Result<Box<RawValue>, SendError>;

/// A waiting call.
pub struct Entry {
    /// Receives the reply.
    pub reply: oneshot::Sender<Reply>,
    /// Receives progress notifications, when the call asked for them.
    pub progress: Option<mpsc::UnboundedSender<Progress>>,
    /// Answers server requests related to this call.
    pub on_request: Option<RequestHandler>,
    /// The MCP session (queue flow) the call comes from: 0 for the
    /// bridge's default session, else its `bridge.session()`.
    pub flow: crate::queue::Flow,
}

impl Entry {
    /// An entry with a reply channel only.
    pub fn new(reply: oneshot::Sender<Reply>) -> Self {
        Entry {
            reply,
            progress: None,
            on_request: None,
            flow: 0,
        }
    }
}

/// Calls waiting for their responses, by request id.
#[derive(Default)]
pub struct Pending {
    map: Mutex<HashMap<u64, Entry>>,
}

fn numeric_id(id: &Value) -> Option<u64> {
    id.as_u64()
}

impl Pending {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a call.
    ///
    /// # Errors
    ///
    /// Gives the entry back when the id is already taken.
    pub fn insert(&self, id: u64, entry: Entry) -> std::result::Result<(), Entry> {
        let mut map = self.map.lock();
        if map.contains_key(&id) {
            return Err(entry);
        }
        map.insert(id, entry);
        Ok(())
    }

    /// Settles the call whose id the response carries, with its `result`
    /// text or its error ([`Incoming::into_result`]). `false` when no call
    /// waits for that id (unknown, or already settled), or `response` is no
    /// response.
    pub fn complete(&self, response: Incoming) -> bool {
        let Message::Response { id } = &response.kind else {
            return false;
        };
        let Some(id) = numeric_id(id) else {
            return false;
        };
        let Some(entry) = self.map.lock().remove(&id) else {
            return false;
        };
        let _ = entry.reply.send(response.into_result().map_err(SendError::delivered));
        true
    }

    /// Settles call `id` with a send failure. `false` when it was already
    /// settled.
    pub fn fail(&self, id: u64, error: SendError) -> bool {
        match self.map.lock().remove(&id) {
            Some(entry) => {
                let _ = entry.reply.send(Err(error));
                true
            }
            None => false,
        }
    }

    /// Forgets call `id` (the caller gave up). `true` when it was waiting.
    pub fn remove(&self, id: u64) -> bool {
        self.map.lock().remove(&id).is_some()
    }

    /// Routes a progress notification to the call whose token it names.
    /// `false` when no waiting call asked for progress with that token.
    pub fn progress(&self, token: &Value, progress: Progress) -> bool {
        let Some(id) = numeric_id(token) else {
            return false;
        };
        match self.map.lock().get(&id).and_then(|e| e.progress.as_ref()) {
            Some(sink) => sink.send(progress).is_ok(),
            None => false,
        }
    }

    /// The request handler of the call with this id, if it has one.
    /// The handler of a server request that nothing ties to a call (over a
    /// stdio process's one shared MCP session): when every waiting call
    /// comes from one MCP session, the handler of the latest of them that
    /// has one; `None` when calls of several sessions wait, or none does.
    pub fn sole_session_handler(&self) -> Option<RequestHandler> {
        let map = self.map.lock();
        let mut flows = map.values().map(|entry| entry.flow);
        let flow = flows.next()?;
        if flows.any(|other| other != flow) {
            return None;
        }
        map.iter()
            .filter_map(|(id, entry)| entry.on_request.clone().map(|handler| (*id, handler)))
            .max_by_key(|(id, _)| *id)
            .map(|(_, handler)| handler)
    }

    pub fn request_handler(&self, id: &Value) -> Option<RequestHandler> {
        let id = numeric_id(id)?;
        self.map.lock().get(&id).and_then(|e| e.on_request.clone())
    }

    /// Settles every waiting call with an error made by `error`.
    pub fn fail_all(&self, error: impl Fn() -> Error) {
        let entries: Vec<Entry> = self.map.lock().drain().map(|(_, e)| e).collect();
        for entry in entries {
            let _ = entry.reply.send(Err(SendError::delivered(error())));
        }
    }

    /// Calls waiting.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether no call waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    fn handler(answer: &'static str) -> RequestHandler {
        Arc::new(move |_request| Box::pin(async move { Ok(serde_json::json!(answer)) }))
    }

    fn waiting(pending: &Pending, id: u64, flow: crate::queue::Flow, on_request: Option<RequestHandler>) {
        let (reply, _) = oneshot::channel();
        let entry = Entry { on_request, flow, ..Entry::new(reply) };
        assert!(pending.insert(id, entry).is_ok());
    }

    #[tokio::test]
    async fn a_request_tied_to_no_call_goes_to_the_one_session_with_calls_waiting() {
        let pending = Pending::new();
        assert!(pending.sole_session_handler().is_none(), "no call waits");
        waiting(&pending, 1, 7, Some(handler("older")));
        waiting(&pending, 2, 7, None);
        waiting(&pending, 3, 7, Some(handler("latest")));
        let chosen = pending.sole_session_handler().expect("one session waits");
        assert_eq!(chosen(serde_json::Value::Null).await.unwrap(), "latest");
        waiting(&pending, 4, 8, Some(handler("other session")));
        assert!(pending.sole_session_handler().is_none(), "two sessions wait");
        pending.remove(1);
        pending.remove(3);
        pending.remove(2);
        assert_eq!(pending.sole_session_handler().unwrap()(serde_json::Value::Null).await.unwrap(), "other session");
    }

    use super::*;
    use serde_json::json;

    fn entry() -> (Entry, oneshot::Receiver<Reply>) {
        let (reply, rx) = oneshot::channel();
        (Entry::new(reply), rx)
    }

    fn response(text: &str) -> Incoming {
        crate::jsonrpc::decode(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_response_settles_its_call_once() {
        let pending = Pending::new();
        let (e, mut rx) = entry();
        pending.insert(7, e).ok().unwrap();
        assert!(pending.complete(response(r#"{"jsonrpc": "2.0", "id": 7, "result": 1}"#)));
        assert!(!pending.complete(response(r#"{"jsonrpc": "2.0", "id": 7, "result": 2}"#)));
        assert_eq!(rx.try_recv().unwrap().unwrap().get(), "1");
        assert!(pending.is_empty());
    }

    #[test]
    fn the_result_reaches_the_call_as_the_server_wrote_it() {
        let pending = Pending::new();
        let (e, mut rx) = entry();
        pending.insert(1, e).ok().unwrap();
        let result = r#"{"b": 1.50, "a": [1e3, "\u00e9"], "n": 123456789012345678901234567890}"#;
        assert!(pending.complete(response(&format!(r#"{{"jsonrpc":"2.0","id":1,"result":{result}}}"#))));
        assert_eq!(rx.try_recv().unwrap().unwrap().get(), result);
    }

    #[test]
    fn an_error_response_settles_its_call_with_the_error() {
        let pending = Pending::new();
        let (a, mut rx_a) = entry();
        let (b, mut rx_b) = entry();
        pending.insert(1, a).ok().unwrap();
        pending.insert(2, b).ok().unwrap();
        let error = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad","data":[1]}}"#;
        assert!(pending.complete(response(error)));
        match rx_a.try_recv().unwrap() {
            Err(SendError { error: Error::JsonRpc { code, message, data }, maybe_delivered: true }) => {
                assert_eq!((code, message.as_str(), data), (-32602, "bad", Some(json!([1]))));
            }
            other => panic!("unexpected {other:?}"),
        }
        // A malformed error object fails that call only.
        assert!(pending.complete(response(r#"{"jsonrpc":"2.0","id":2,"error":{"message":"no code"}}"#)));
        assert!(matches!(rx_b.try_recv().unwrap(), Err(SendError { error: Error::Protocol(_), .. })));
    }

    #[test]
    fn unknown_ids_and_duplicates_are_refused_without_panic() {
        let pending = Pending::new();
        assert!(!pending.complete(response(r#"{"jsonrpc": "2.0", "id": 99, "result": 1}"#)));
        assert!(!pending.complete(response(r#"{"jsonrpc": "2.0", "id": "x", "result": 1}"#)));
        let (a, _rx_a) = entry();
        let (b, _rx_b) = entry();
        pending.insert(1, a).ok().unwrap();
        assert!(pending.insert(1, b).is_err());
        // A server request with the same id is no response to the call.
        assert!(!pending.complete(response(r#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#)));
        assert_eq!(pending.len(), 1);
    }

    #[test]
    fn progress_reaches_only_the_call_that_asked() {
        let pending = Pending::new();
        let (reply, _rx) = oneshot::channel();
        let (tx, mut progress) = mpsc::unbounded_channel();
        let entry = Entry { progress: Some(tx), ..Entry::new(reply) };
        pending.insert(3, entry).ok().unwrap();
        let p = Progress::from_params(&json!({"progressToken": 3, "progress": 1, "total": 4})).unwrap();
        assert!(pending.progress(&json!(3), p.clone()));
        assert!(!pending.progress(&json!(4), p.clone()));
        assert_eq!(progress.try_recv().unwrap(), p);
    }

    #[test]
    fn fail_all_settles_every_waiting_call() {
        let pending = Pending::new();
        let (a, mut rx_a) = entry();
        let (b, mut rx_b) = entry();
        pending.insert(1, a).ok().unwrap();
        pending.insert(2, b).ok().unwrap();
        pending.fail_all(|| Error::Closed);
        assert!(matches!(rx_a.try_recv().unwrap(), Err(SendError { error: Error::Closed, .. })));
        assert!(matches!(rx_b.try_recv().unwrap(), Err(SendError { error: Error::Closed, .. })));
        assert!(pending.is_empty());
    }
}
