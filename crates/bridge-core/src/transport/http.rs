//! MCP streamable HTTP client transport (MCP 2025-06-18 and 2025-11-25,
//! Basic / Transports / Streamable HTTP) over TCP loopback or a Unix socket,
//! on a pooled hyper 1.x client.
//!
//! # Theory of operation
//!
//! Each message is one `POST` with `Accept: application/json,
//! text/event-stream`. A request's answer is either one JSON body or an SSE
//! stream whose events carry server messages until the response to it. The
//! `Mcp-Session-Id` the server issues on `initialize` is sent on every later
//! request, and so is `MCP-Protocol-Version` once negotiated. Every message
//! read from a response goes to the [`Inbox`], with the id of the request
//! whose stream carried it.
//!
//! Once `notifications/initialized` is accepted, a task opens the session's
//! `GET` stream ("Listening for Messages from the Server") with `Accept:
//! text/event-stream` and the session headers, and hands what the server
//! sends there (notifications, server requests not tied to a call) to the
//! inbox with no related request. A `405` means the server offers no such
//! stream: the task ends. When the stream ends or fails the task opens it
//! again after 100 ms doubling to 5 s (back to 100 ms after a stream that
//! carried a message; the server's SSE `retry` instead, when given), with
//! `Last-Event-ID` when the server gave event ids, until the transport is
//! closed or dropped, or the connection is refused (the process is gone).
//! An SSE event on it over the message size limit is dropped (and ends that
//! stream when it arrives in parts).
//!
//! An HTTP `404` to a request that carried a session id means the server
//! ended the session ("Session Management", item 4): the transport starts a
//! new one with the same `initialize` parameters (a request id of its own,
//! `fastmcp-bridge/reinitialize/<n>`, so it cannot collide with a call),
//! then `notifications/initialized`, and sends the refused message again on
//! the new session, once: a `404` means the server did not process it. A
//! response to a server request of the ended session is not re-sent (that
//! request died with it). A second `404` fails the message with
//! `TRANSPORT_ERROR`. Messages refused while another message re-initializes
//! wait for it and go on the new session; the `GET` stream's own `404`
//! re-initializes the same way. What the client had set on the ended
//! session and the server kept for it (logging level, resource
//! subscriptions; see `HttpTransport::renewing`) is then set again on
//! the new one, before the refused message goes.
//!
//! [`Transport::close`] stops the `GET` stream and sends `DELETE` with the
//! session id ("Session Management", item 5).

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyDataStream, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};
use sse_stream::{SseByteStream, SseStream};
use tokio_util::sync::CancellationToken;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::connect::Connector;
use super::{Inbox, Renewal, SendError, Transport};
use crate::error::{Error, Result};
use crate::jsonrpc::{self, Message, Outgoing};

const SESSION_HEADER: &str = "mcp-session-id";
const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
const METHOD_HEADER: &str = "mcp-method";
const NAME_HEADER: &str = "mcp-name";
const LAST_EVENT_ID_HEADER: &str = "last-event-id";
const ACCEPT_BOTH: &str = "application/json, text/event-stream";
const ACCEPT_SSE: &str = "text/event-stream";

/// How long the rest of an SSE stream may take after its response.
const SSE_DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
/// First delay before the `GET` stream is opened again; doubles up to
/// [`STREAM_RETRY_MAX`], and starts over after a stream that carried a
/// message (a server that closes every stream at once is not polled fast).
const STREAM_RETRY_FIRST: Duration = Duration::from_millis(100);
/// Longest delay before the `GET` stream is opened again.
const STREAM_RETRY_MAX: Duration = Duration::from_secs(5);

/// Largest message the transport reads, in bytes.
///
/// # Default
///
/// 16 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Streamable HTTP transport to one MCP endpoint URL.
///
/// Dropping it (or [`Transport::close`]) ends its `GET` stream task.
pub struct HttpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client<Connector, Full<Bytes>>,
    url: Uri,
    session_id: RwLock<Option<HeaderValue>>,
    protocol_version: RwLock<Option<HeaderValue>>,
    /// Speaking the sessionless 2026-07-28 revision.
    sessionless: AtomicBool,
    max_message_bytes: usize,
    inbox: Arc<dyn Inbox>,
    /// The params of the `initialize` request, repeated to re-initialize.
    initialize: Mutex<Option<Value>>,
    /// Held while re-initializing: one re-initialization at a time.
    reinitializing: tokio::sync::Mutex<()>,
    /// Re-initializations so far (names their request ids).
    reinitializations: AtomicU64,
    /// Set once the `GET` stream task was started.
    listening: AtomicBool,
    /// Cancelled by close or drop: ends the `GET` stream task.
    closed: CancellationToken,
    /// Checks and sets up each session that re-initializing starts; without
    /// it, any `protocolVersion` is taken and nothing is set again.
    renewal: Option<Arc<dyn Renewal>>,
}

/// How one POST ended, before re-initialization is considered.
enum PostError {
    /// HTTP 404 to a message that carried this session id.
    SessionGone(HeaderValue),
    Failed(SendError),
}

impl From<SendError> for PostError {
    fn from(e: SendError) -> Self {
        PostError::Failed(e)
    }
}

/// How one `GET` stream ended.
enum Listen {
    /// 405, or no session: the server offers no stream; stop trying.
    NotOffered,
    /// The connection was refused: the process is gone; stop trying.
    Unreachable,
    /// 404 for this session id.
    SessionGone(HeaderValue),
    /// The stream ended or failed; `delivered` when it carried a message.
    Ended { delivered: bool },
}

impl HttpTransport {
    /// A transport to `url` (e.g. `http://127.0.0.1:8123/mcp`) through
    /// `connector` (TCP, or a Unix socket), delivering to `inbox`, reading
    /// messages of at most `max_message_bytes` (bytes; a response stream
    /// counts as one message, an event of the `GET` stream as one).
    ///
    /// Must be called within a tokio runtime (the `GET` stream task is
    /// spawned on it once the session is initialized).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `url` is not an `http://` URL.
    pub fn new(url: &str, connector: Connector, inbox: Arc<dyn Inbox>, max_message_bytes: usize) -> Result<Self> {
        let url: Uri = url
            .parse()
            .map_err(|e| Error::InvalidArgument(format!("endpoint URL {url:?}: {e}")))?;
        if url.scheme_str() != Some("http") {
            return Err(Error::InvalidArgument(format!("endpoint URL {url} is not http://")));
        }
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(HttpTransport {
            inner: Arc::new(Inner {
                client,
                url,
                session_id: RwLock::new(None),
                protocol_version: RwLock::new(None),
                sessionless: AtomicBool::new(false),
                max_message_bytes,
                inbox,
                initialize: Mutex::new(None),
                reinitializing: tokio::sync::Mutex::new(()),
                reinitializations: AtomicU64::new(0),
                listening: AtomicBool::new(false),
                closed: CancellationToken::new(),
                renewal: None,
            }),
        })
    }

    /// Sets up each session that re-initializing starts (after an HTTP 404)
    /// as `state` records: its logging level and resource subscriptions,
    /// sent right after `notifications/initialized`. A request the server
    /// refuses is logged and skipped. Without it, nothing is set again.
    #[must_use]
    pub fn renewing(mut self, renewal: Arc<dyn Renewal>) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("a new transport has one owner");
        inner.renewal = Some(renewal);
        self
    }

    /// The MCP session id the server issued, if any (a new one after a
    /// re-initialization).
    pub fn session_id(&self) -> Option<String> {
        self.inner.session_id.read().as_ref().and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        self.inner.closed.cancel();
    }
}

impl Inner {
    /// A request to the endpoint with the session headers (the session id
    /// only when `with_session`); returns the session id it carries.
    fn build(
        &self,
        method: Method,
        body: Bytes,
        with_session: bool,
        routing: &[(&'static str, HeaderValue)],
    ) -> Result<(Request<Full<Bytes>>, Option<HeaderValue>)> {
        let mut builder = Request::builder()
            .method(method)
            .uri(self.url.clone())
            .header(ACCEPT, ACCEPT_BOTH)
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in routing {
            builder = builder.header(*name, value.clone());
        }
        let session = if with_session { self.session_id.read().clone() } else { None };
        if let Some(id) = &session {
            builder = builder.header(SESSION_HEADER, id.clone());
        }
        if with_session {
            if let Some(version) = self.protocol_version.read().as_ref() {
                builder = builder.header(PROTOCOL_VERSION_HEADER, version.clone());
            }
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| Error::InvalidArgument(format!("request: {e}")))?;
        Ok((request, session))
    }

    async fn post(self: &Arc<Self>, message: Outgoing) -> Result<(), SendError> {
        let classified = message.kind();
        let expects = match classified {
            Message::Request { id, method } => {
                if method == "initialize" {
                    // Kept to re-initialize with; parsed here, once per session.
                    let params = serde_json::from_slice::<Value>(message.bytes())
                        .ok()
                        .and_then(|mut m| m.get_mut("params").map(Value::take));
                    *self.initialize.lock() = params;
                }
                Some(id)
            }
            _ => None,
        };
        let sessionless = self.sessionless.load(Ordering::Acquire);
        if sessionless && matches!(classified, Message::Notification { .. }) {
            // The sessionless revision has no client notifications over HTTP:
            // a request is cancelled by closing its response stream (MCP
            // 2026-07-28, Basic / Transports).
            return Ok(());
        }
        let routing = if sessionless { routing_headers(&message) } else { Vec::new() };
        // Every attempt sends these same bytes.
        let body = message.bytes().clone();
        let outcome = match self.post_once(body.clone(), expects, true, &routing).await {
            Err(PostError::SessionGone(stale)) => {
                self.reinitialize(&stale).await.map_err(SendError::delivered)?;
                if matches!(classified, Message::Response { .. }) {
                    return Err(SendError::delivered(Error::Transport(
                        "the MCP session ended (HTTP 404) before this response reached the server".into(),
                    )));
                }
                match self.post_once(body, expects, true, &routing).await {
                    Err(PostError::SessionGone(_)) => Err(SendError::delivered(Error::Transport(format!(
                        "POST {}: MCP session not found (HTTP 404) again after re-initializing",
                        self.url
                    )))),
                    Err(PostError::Failed(e)) => Err(e),
                    Ok(()) => Ok(()),
                }
            }
            Err(PostError::Failed(e)) => Err(e),
            Ok(()) => Ok(()),
        };
        if outcome.is_ok() && matches!(classified, Message::Notification { ref method } if method == "notifications/initialized") {
            self.listen();
        }
        outcome
    }

    /// One POST of `body`; delivers what the server answers to the inbox.
    async fn post_once(
        &self,
        body: Bytes,
        expects: Option<&Value>,
        with_session: bool,
        routing: &[(&'static str, HeaderValue)],
    ) -> Result<(), PostError> {
        let (request, session) = self.build(Method::POST, body, with_session, routing).map_err(SendError::delivered)?;
        let response = self.client.request(request).await.map_err(|e| SendError {
            error: Error::Transport(format!("POST {}: {e}", self.url)),
            // A connect error means nothing was written.
            maybe_delivered: !e.is_connect(),
        })?;
        self.keep_session_id(&response);
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            if let Some(stale) = session {
                // Read the body so that the connection can be reused.
                let _ = self.read_body(response.into_body()).await;
                return Err(PostError::SessionGone(stale));
            }
        }
        if !status.is_success() {
            return Err(SendError::delivered(self.http_error(response).await).into());
        }
        let Some(expected) = expects else {
            // Notifications and responses: 202 Accepted, no body.
            return Ok(());
        };
        self.read_answer(response, expected, false)
            .await
            .map(|_| ())
            .map_err(|e| SendError::delivered(e).into())
    }

    fn keep_session_id(&self, response: &Response<Incoming>) {
        if let Some(id) = response.headers().get(SESSION_HEADER) {
            let mut slot = self.session_id.write();
            if slot.as_ref() != Some(id) {
                *slot = Some(id.clone());
            }
        }
    }

    /// Reads the answer to request `expected` (JSON or SSE), delivering
    /// every message to the inbox; with `capture`, the answer itself is
    /// returned instead of delivered.
    async fn read_answer(&self, response: Response<Incoming>, expected: &Value, capture: bool) -> Result<Option<jsonrpc::Incoming>> {
        if response.status() == StatusCode::ACCEPTED {
            return Err(Error::Protocol("server answered a request with 202 Accepted".into()));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            self.read_sse(response.into_body(), expected, capture).await
        } else if content_type.starts_with("application/json") {
            let bytes = self.read_body(response.into_body()).await?;
            let message = crate::jsonrpc::decode(&bytes)
                .map_err(|e| Error::Protocol(format!("invalid JSON response: {e}")))?;
            if capture {
                return Ok(Some(message));
            }
            self.inbox.deliver(message, Some(expected));
            Ok(None)
        } else {
            Err(Error::Protocol(format!(
                "unexpected content type {content_type:?} for a request"
            )))
        }
    }

    async fn read_body(&self, body: Incoming) -> Result<Bytes> {
        Limited::new(body, self.max_message_bytes)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    Error::PayloadTooLarge {
                        what: "response",
                        max: Some(self.max_message_bytes),
                    }
                } else {
                    Error::Transport(format!("reading response: {e}"))
                }
            })
    }

    /// Hands every message of an SSE response stream to the inbox, until
    /// the response with id `expected` (returned instead, with `capture`).
    async fn read_sse(&self, body: Incoming, expected: &Value, capture: bool) -> Result<Option<jsonrpc::Incoming>> {
        let mut messages = std::pin::pin!(sse_messages(body, self.max_message_bytes));
        while let Some(decoded) = messages.next().await {
            let message = decoded?;
            let is_answer = matches!(message.kind, Message::Response { ref id } if id == expected);
            let captured = if is_answer && capture {
                Some(message)
            } else {
                self.inbox.deliver(message, Some(expected));
                None
            };
            if is_answer {
                // Read the stream to its end (the server closes it after the
                // response) so that hyper can reuse the connection; bounded,
                // and the caller already has its answer.
                let drain = async { while messages.next().await.is_some() {} };
                let _ = tokio::time::timeout(SSE_DRAIN_TIMEOUT, drain).await;
                return Ok(captured);
            }
        }
        Err(Error::Protocol("SSE stream ended without a response".into()))
    }

    async fn http_error(&self, response: Response<Incoming>) -> Error {
        let status = response.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The server's own limit (the MCP Python SDK's is 4 MiB).
            return Error::PayloadTooLarge {
                what: "request",
                max: None,
            };
        }
        let body = self.read_body(response.into_body()).await.unwrap_or_default();
        // A JSON-RPC error body is the server's own error; pass it through.
        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
            if let Err(err @ Error::JsonRpc { .. }) = crate::jsonrpc::into_result(value) {
                return err;
            }
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
        Error::Protocol(format!("HTTP {status} from {}: {text}", self.url))
    }

    /// Starts a new MCP session after the server answered 404 for `stale`:
    /// `initialize` with the parameters of the first one, then
    /// `notifications/initialized`. Does nothing when another caller
    /// already replaced `stale`.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when there is no `initialize` to repeat or the
    /// new session cannot be set up; the server's error when it refuses.
    async fn reinitialize(&self, stale: &HeaderValue) -> Result<()> {
        let _one_at_a_time = self.reinitializing.lock().await;
        if self.session_id.read().as_ref() != Some(stale) {
            return Ok(());
        }
        let params = self.initialize.lock().clone().ok_or_else(|| {
            Error::Transport(format!("POST {}: MCP session not found (HTTP 404)", self.url))
        })?;
        let n = self.reinitializations.fetch_add(1, Ordering::Relaxed) + 1;
        let id = json!(format!("fastmcp-bridge/reinitialize/{n}"));
        let (new_session, result) = self.exchange(&id, "initialize", &params, false).await?;
        let init: Value =
            serde_json::from_str(result.get()).map_err(|e| Error::Protocol(format!("InitializeResult: {e}")))?;
        let version = match &self.renewal {
            Some(renewal) => renewal.accept(&init)?,
            None => init
                .get("protocolVersion")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::Protocol("InitializeResult has no protocolVersion".into()))?,
        };
        *self.protocol_version.write() = HeaderValue::from_str(version).ok();
        *self.session_id.write() = new_session;
        let initialized = Outgoing::notification("notifications/initialized", None);
        match self.post_once(initialized.bytes().clone(), None, true, &[]).await {
            Ok(()) => {}
            Err(PostError::Failed(e)) => return Err(e.error),
            Err(PostError::SessionGone(_)) => {
                return Err(Error::Transport(format!(
                    "POST {}: the new MCP session was not found (HTTP 404)",
                    self.url
                )))
            }
        }
        tracing::info!(url = %self.url, "MCP session ended by the server (HTTP 404); initialized a new one");
        self.restore(n).await;
        Ok(())
    }

    /// Sends the requests of [`Renewal::replay`] on the session
    /// re-initialization `n` started, one after another, with ids of their
    /// own (`fastmcp-bridge/restore/<n>/<k>`).
    async fn restore(&self, n: u64) {
        let replay = self.renewal.as_ref().map(|r| r.replay()).unwrap_or_default();
        for (k, (method, params)) in replay.into_iter().enumerate() {
            let id = json!(format!("fastmcp-bridge/restore/{n}/{k}"));
            match self.exchange(&id, method, &params, true).await {
                Ok(_) => tracing::debug!(url = %self.url, method, %params, "restored on the new MCP session"),
                Err(e) => tracing::warn!(url = %self.url, method, %params, error = %e, "not restored on the new MCP session"),
            }
        }
    }

    /// POSTs one request of the transport's own (on the current session
    /// when `with_session`) and reads its answer: the `Mcp-Session-Id` the
    /// response carries, and the result; the server's error as an `Err`.
    async fn exchange(
        &self,
        id: &Value,
        method: &str,
        params: &Value,
        with_session: bool,
    ) -> Result<(Option<HeaderValue>, Box<serde_json::value::RawValue>)> {
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let body = serde_json::to_vec(&message)
            .map_err(|e| Error::InvalidArgument(format!("message: {e}")))?
            .into();
        let (request, _) = self.build(Method::POST, body, with_session, &[])?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| Error::Transport(format!("POST {} ({method}): {e}", self.url)))?;
        if !response.status().is_success() {
            return Err(self.http_error(response).await);
        }
        let session = response.headers().get(SESSION_HEADER).cloned();
        let answer = self
            .read_answer(response, id, true)
            .await?
            .ok_or_else(|| Error::Protocol(format!("no answer to {method}")))?;
        Ok((session, answer.into_result()?))
    }

    /// Starts the `GET` stream task, once.
    fn listen(self: &Arc<Self>) {
        if self.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(self.clone().listen_loop());
    }

    /// Keeps the session's `GET` stream open until the transport closes.
    async fn listen_loop(self: Arc<Self>) {
        let mut delay = STREAM_RETRY_FIRST;
        let mut server_retry: Option<Duration> = None;
        let mut last_event_id: Option<(HeaderValue, String)> = None;
        loop {
            let ended = tokio::select! {
                _ = self.closed.cancelled() => return,
                ended = self.listen_once(&mut last_event_id, &mut server_retry) => ended,
            };
            match ended {
                Listen::NotOffered => {
                    tracing::debug!(url = %self.url, "the server offers no GET stream");
                    return;
                }
                Listen::Unreachable => return,
                Listen::SessionGone(stale) => {
                    let reinitialize = tokio::select! {
                        _ = self.closed.cancelled() => return,
                        outcome = self.reinitialize(&stale) => outcome,
                    };
                    if let Err(e) = reinitialize {
                        tracing::warn!(url = %self.url, error = %e, "could not re-initialize the MCP session");
                    } else {
                        delay = STREAM_RETRY_FIRST;
                        continue;
                    }
                }
                Listen::Ended { delivered: true } => delay = STREAM_RETRY_FIRST,
                Listen::Ended { delivered: false } => {}
            }
            let wait = server_retry.unwrap_or(delay).min(STREAM_RETRY_MAX);
            tokio::select! {
                _ = self.closed.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            delay = (delay * 2).min(STREAM_RETRY_MAX);
        }
    }

    /// Opens the `GET` stream once and reads it to its end.
    async fn listen_once(
        &self,
        last_event_id: &mut Option<(HeaderValue, String)>,
        server_retry: &mut Option<Duration>,
    ) -> Listen {
        let Ok((mut request, Some(session))) = self.build(Method::GET, Bytes::new(), true, &[]) else {
            return Listen::NotOffered;
        };
        let headers = request.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_SSE));
        headers.remove(CONTENT_TYPE);
        // Event ids belong to a session's stream; resume only the same one.
        if let Some((_, id)) = last_event_id.as_ref().filter(|(s, _)| *s == session) {
            if let Ok(value) = HeaderValue::from_str(id) {
                headers.insert(LAST_EVENT_ID_HEADER, value);
            }
        }
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(e) if e.is_connect() => {
                tracing::debug!(url = %self.url, error = %e, "GET stream: server unreachable");
                return Listen::Unreachable;
            }
            Err(e) => {
                tracing::debug!(url = %self.url, error = %e, "GET stream failed");
                return Listen::Ended { delivered: false };
            }
        };
        let status = response.status();
        if status == StatusCode::METHOD_NOT_ALLOWED {
            return Listen::NotOffered;
        }
        if status == StatusCode::NOT_FOUND {
            return Listen::SessionGone(session);
        }
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with(ACCEPT_SSE));
        if !status.is_success() || !is_sse {
            // E.g. 409 while the server still holds the previous stream.
            tracing::debug!(url = %self.url, %status, "GET stream refused");
            return Listen::Ended { delivered: false };
        }
        // Bounds what the decoder buffers: the bytes read since the last
        // event, or since a chunk that ended on a blank line (nothing left
        // half-read; e.g. after keep-alive comments, which yield no event),
        // may not pass the limit. A whole event over it is dropped below.
        let max = self.max_message_bytes;
        let pending = Arc::new(AtomicUsize::new(0));
        let counted = pending.clone();
        let chunks = BodyDataStream::new(response.into_body()).map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            let buffered = counted.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len();
            if [&b"\n\n"[..], b"\r\r", b"\r\n\r\n"].iter().any(|end| chunk.ends_with(end)) {
                counted.store(0, Ordering::Relaxed);
            } else if buffered > max {
                return Err(std::io::Error::other(format!("an SSE event over {max} bytes")));
            }
            Ok(chunk)
        });
        let mut events = std::pin::pin!(SseByteStream::new(chunks));
        let mut delivered = false;
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "GET stream failed");
                    break;
                }
            };
            pending.store(0, Ordering::Relaxed);
            if let Some(id) = event.id {
                *last_event_id = Some((session.clone(), id));
            }
            if let Some(retry) = event.retry {
                *server_retry = Some(Duration::from_millis(retry));
            }
            let Some(data) = event.data.filter(|d| !d.is_empty()) else {
                continue; // priming or keep-alive event
            };
            if data.len() > max {
                tracing::warn!(url = %self.url, max, "GET stream: an event over the message size limit; dropped");
                continue;
            }
            match crate::jsonrpc::decode(data.as_bytes()) {
                Ok(message) => {
                    delivered = true;
                    self.inbox.deliver(message, None);
                }
                Err(_) => tracing::warn!(url = %self.url, "GET stream: an event that is not a JSON-RPC message; dropped"),
            }
        }
        Listen::Ended { delivered }
    }

    async fn close(&self) {
        self.closed.cancel();
        if self.session_id.read().is_none() {
            return;
        }
        let Ok((request, _)) = self.build(Method::DELETE, Bytes::new(), true, &[]) else {
            return;
        };
        match self.client.request(request).await {
            Ok(response) => tracing::debug!(status = %response.status(), "MCP session deleted"),
            Err(e) => tracing::debug!(error = %e, "MCP session delete failed"),
        }
    }
}


/// The sessionless revision's routing headers of a request: `Mcp-Method`,
/// and `Mcp-Name` with the tool or prompt name (`tools/call`,
/// `prompts/get`) or resource URI (`resources/read`) (MCP 2026-07-28, Basic
/// / Transports, Streamable HTTP). Empty for other messages.
fn routing_headers(message: &Outgoing) -> Vec<(&'static str, HeaderValue)> {
    let Message::Request { method, .. } = message.kind() else {
        return Vec::new();
    };
    let mut headers = Vec::with_capacity(2);
    headers.push((METHOD_HEADER, header_value(method)));
    // Only these requests are read again, for their params' name or uri
    // (the other members are skipped, not built).
    #[derive(serde::Deserialize)]
    struct Named {
        params: Option<NamedParams>,
    }
    #[derive(serde::Deserialize)]
    struct NamedParams {
        name: Option<String>,
        uri: Option<String>,
    }
    let named = || serde_json::from_slice::<Named>(message.bytes()).ok()?.params;
    let name = match method.as_str() {
        "tools/call" | "prompts/get" => named().and_then(|p| p.name),
        "resources/read" => named().and_then(|p| p.uri),
        _ => None,
    };
    if let Some(name) = name {
        headers.push((NAME_HEADER, header_value(&name)));
    }
    headers
}

/// A header value that carries `text` exactly: as it is when it is
/// printable ASCII without leading or trailing spaces, else as
/// `=?base64?<UTF-8 in base64>?=` (MCP 2026-07-28, Basic / Transports,
/// Streamable HTTP; as the MCP Python SDK's `encode_header_value`).
fn header_value(text: &str) -> HeaderValue {
    use base64::Engine as _;
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b))
        && text.trim() == text
        && !(text.starts_with("=?base64?") && text.ends_with("?="));
    let encoded;
    let value = if plain {
        text
    } else {
        encoded = format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(text));
        &encoded
    };
    HeaderValue::from_str(value).expect("printable ASCII is a valid header value")
}

/// Decodes an SSE body (`text/event-stream`) into the JSON-RPC messages its
/// events carry ([`crate::jsonrpc::decode`]), in order.
///
/// Events without data (priming events, keep-alives) are skipped. The whole
/// body counts against `max_message_bytes` (bytes): once more than that has
/// been read the stream yields [`Error::PayloadTooLarge`] (`what:
/// "response"`). Other errors: [`Error::Transport`] when the body fails or
/// is not valid SSE (after which the stream ends), [`Error::Protocol`] for
/// an event whose data is not a JSON-RPC message. An incomplete last event
/// is discarded. The transport reads every SSE response through this.
#[doc(hidden)]
pub fn sse_messages<B>(body: B, max_message_bytes: usize) -> impl Stream<Item = Result<jsonrpc::Incoming>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limited = Limited::new(body, max_message_bytes).map_err(body_error);
    SseStream::new(limited).filter_map(move |event| {
        let decoded = match event {
            Err(e) => {
                let too_large = std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<std::io::Error>())
                    .and_then(|io| io.get_ref())
                    .is_some_and(|inner| inner.is::<http_body_util::LengthLimitError>());
                Some(Err(if too_large {
                    Error::PayloadTooLarge {
                        what: "response",
                        max: Some(max_message_bytes),
                    }
                } else {
                    Error::Transport(format!("SSE stream: {e}"))
                }))
            }
            // No data: a priming or keep-alive event.
            Ok(event) => event
                .data
                .filter(|d| !d.is_empty())
                .map(|data| crate::jsonrpc::decode(data.as_bytes())),
        };
        std::future::ready(decoded)
    })
}

/// Gives the length-limited body a concrete error type, as the SSE decoder
/// needs one that implements `std::error::Error`.
fn body_error(e: Box<dyn std::error::Error + Send + Sync>) -> std::io::Error {
    std::io::Error::other(e)
}

impl Transport for HttpTransport {
    fn send(&self, message: Outgoing) -> BoxFuture<'_, Result<(), SendError>> {
        Box::pin(self.inner.post(message))
    }

    /// MCP 2025-06-18, Basic / Transports / Streamable HTTP: the client
    /// sends the negotiated version on every request after initialization.
    fn set_protocol_version(&self, version: Option<&str>, sessionless: bool) {
        *self.inner.protocol_version.write() = version.and_then(|v| HeaderValue::from_str(v).ok());
        self.inner.sessionless.store(sessionless, Ordering::Release);
    }

    /// Stops the `GET` stream and sends `DELETE` for the session.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.inner.close())
    }
}

#[cfg(test)]
mod tests {
    //! Faults a real FastMCP server does not produce on demand (truncated
    //! JSON, a stream that ends early, a closed socket) come from a raw TCP
    //! listener that writes fixed HTTP responses; exact sequences of session
    //! handling (a 404 at a chosen request, a GET stream that ends, what the
    //! transport sends) from a local hyper server that records every request.
    //! The same behaviour against a real hub is in `tests/sessions.test.js`.
    use super::*;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// What the transport delivered, and the related request ids.
    #[derive(Default)]
    struct Collect(Mutex<Vec<Value>>, Mutex<Vec<Option<Value>>>);

    impl Inbox for Collect {
        fn deliver(&self, message: crate::jsonrpc::Incoming, related: Option<&Value>) {
            self.0.lock().push(message.into_value().unwrap());
            self.1.lock().push(related.cloned());
        }
    }

    /// Serves one connection with `response` (raw HTTP) after reading the request head.
    async fn serve_once(response: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
        url
    }

    fn transport(url: &str, inbox: Arc<Collect>, max: usize) -> HttpTransport {
        HttpTransport::new(url, Connector::tcp(), inbox, max).unwrap()
    }

    fn request() -> Outgoing {
        Outgoing::request(1, "tools/list", None, false).unwrap()
    }

    #[tokio::test]
    async fn refused_connection_is_known_not_to_have_reached_the_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        drop(listener);
        let err = transport(&url, Arc::default(), 1024).send(request()).await.unwrap_err();
        assert!(matches!(err.error, Error::Transport(_)));
        assert!(!err.maybe_delivered);
    }

    #[tokio::test]
    async fn socket_closed_mid_response_may_have_reached_the_server() {
        let url = serve_once("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"jsonrpc\"").await;
        let err = transport(&url, Arc::default(), 1024).send(request()).await.unwrap_err();
        assert!(matches!(err.error, Error::Transport(_)), "{:?}", err.error);
        assert!(err.maybe_delivered);
    }

    #[tokio::test]
    async fn invalid_json_is_a_protocol_error() {
        let url = serve_once("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{\"jsonrpc").await;
        let err = transport(&url, Arc::default(), 1024).send(request()).await.unwrap_err();
        assert!(matches!(err.error, Error::Protocol(_)), "{:?}", err.error);
    }

    #[tokio::test]
    async fn sse_stream_that_ends_without_the_response_is_a_protocol_error_after_delivering_the_rest() {
        let url = serve_once(concat!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n"
        ))
        .await;
        let inbox = Arc::new(Collect::default());
        let err = transport(&url, inbox.clone(), 1024).send(request()).await.unwrap_err();
        assert!(matches!(err.error, Error::Protocol(_)), "{:?}", err.error);
        assert_eq!(inbox.0.lock().len(), 1);
    }

    #[tokio::test]
    async fn oversized_response_is_payload_too_large() {
        let url = serve_once(concat!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n",
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"text\":\"xxxxxxxxxxxxxxxxxxxxxxx\"}}"
        ))
        .await;
        let err = transport(&url, Arc::default(), 32).send(request()).await.unwrap_err();
        assert!(matches!(err.error, Error::PayloadTooLarge { what: "response", max: Some(32) }), "{:?}", err.error);
    }

    #[tokio::test]
    async fn oversized_sse_stream_is_payload_too_large() {
        let url = serve_once(concat!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
            "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"text\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}\n\n"
        ))
        .await;
        let err = transport(&url, Arc::default(), 32).send(request()).await.unwrap_err();
        assert!(matches!(err.error, Error::PayloadTooLarge { what: "response", max: Some(32) }), "{:?}", err.error);
    }

    #[tokio::test]
    async fn sse_response_is_delivered_with_what_came_before_it() {
        let url = serve_once(concat!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
            "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n",
            "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
        ))
        .await;
        let inbox = Arc::new(Collect::default());
        transport(&url, inbox.clone(), 4096).send(request()).await.unwrap();
        let got = inbox.0.lock();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1]["id"], 1);
    }

    /// Keeps the text of each response's result, as delivered.
    #[derive(Default)]
    struct Results(Mutex<Vec<Option<String>>>);

    impl Inbox for Results {
        fn deliver(&self, message: crate::jsonrpc::Incoming, _related: Option<&Value>) {
            self.0.lock().push(message.result.map(|r| r.get().to_owned()));
        }
    }

    const ODD_RESULT: &str = r#"{ "text" : "caf\u00e9", "n": [1.50, 1e3, 123456789012345678901234567890] }"#;

    #[tokio::test]
    async fn a_json_answers_result_reaches_the_inbox_as_the_server_wrote_it() {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{ODD_RESULT}}}"#);
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let url = serve_once(Box::leak(response.into_boxed_str())).await;
        let inbox = Arc::new(Results::default());
        HttpTransport::new(&url, Connector::tcp(), inbox.clone(), 4096).unwrap().send(request()).await.unwrap();
        assert_eq!(*inbox.0.lock(), [Some(ODD_RESULT.to_owned())]);
    }

    #[tokio::test]
    async fn an_sse_answers_result_reaches_the_inbox_as_the_server_wrote_it() {
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\nevent: message\ndata: {{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{ODD_RESULT}}}\n\n"
        );
        let url = serve_once(Box::leak(response.into_boxed_str())).await;
        let inbox = Arc::new(Results::default());
        HttpTransport::new(&url, Connector::tcp(), inbox.clone(), 4096).unwrap().send(request()).await.unwrap();
        assert_eq!(*inbox.0.lock(), [Some(ODD_RESULT.to_owned())]);
    }

    #[tokio::test]
    async fn a_json_answer_that_is_not_json_rpc_is_a_protocol_error() {
        let url = serve_once("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{\"id\": 1}").await;
        let inbox = Arc::new(Collect::default());
        let err = transport(&url, inbox.clone(), 1024).send(request()).await.unwrap_err();
        assert!(matches!(err.error, Error::Protocol(_)), "{:?}", err.error);
        assert!(inbox.0.lock().is_empty());
    }

    // --- Session handling, against a local hyper server. ---

    type Reply = Response<http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>>;

    /// One request the local server received.
    #[derive(Debug, Clone)]
    struct Seen {
        method: Method,
        headers: hyper::HeaderMap,
        body: Value,
        raw: Bytes,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
        fn rpc_method(&self) -> Option<&str> {
            self.body.get("method").and_then(Value::as_str)
        }
    }

    type Seens = Arc<Mutex<Vec<Seen>>>;

    /// Serves HTTP/1.1 on loopback, answering each request with `answer`
    /// (called with the request and those before it) and recording it.
    async fn hyper_server(answer: impl Fn(&Seen, &[Seen]) -> Reply + Send + Sync + 'static) -> (String, Seens) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let seen: Seens = Arc::default();
        let answer = Arc::new(answer);
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (answer, log) = (answer.clone(), log.clone());
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let (answer, log) = (answer.clone(), log.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                        let seen = Seen {
                            method: parts.method,
                            headers: parts.headers,
                            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                            raw: bytes,
                        };
                        let mut log = log.lock();
                        let reply = answer(&seen, &log);
                        log.push(seen);
                        Ok::<_, std::convert::Infallible>(reply)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service),
                );
            }
        });
        (url, seen)
    }

    fn reply(status: u16, session: Option<&str>, content_type: Option<&str>, body: String) -> Reply {
        let mut builder = Response::builder().status(status);
        if let Some(session) = session {
            builder = builder.header(SESSION_HEADER, session);
        }
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(Full::new(Bytes::from(body)).boxed()).unwrap()
    }

    fn json_reply(session: Option<&str>, body: Value) -> Reply {
        reply(200, session, Some("application/json"), body.to_string())
    }

    fn status(status: u16) -> Reply {
        reply(status, None, None, String::new())
    }

    /// The answer to `initialize` request `seen`, issuing session `session`.
    fn initialized(seen: &Seen, session: &str) -> Reply {
        json_reply(
            Some(session),
            json!({ "jsonrpc": "2.0", "id": seen.body["id"],
                    "result": { "protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": { "name": "t", "version": "1" } } }),
        )
    }

    /// Polls `check` until it holds; panics after 10 s.
    async fn until(what: &str, mut check: impl FnMut() -> bool) {
        let wait = async {
            while !check() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    /// `initialize` as the session layer sends it, then
    /// `notifications/initialized`.
    async fn handshake(transport: &HttpTransport) {
        let init = json!({ "jsonrpc": "2.0", "id": 100, "method": "initialize",
            "params": { "protocolVersion": "2025-11-25", "capabilities": { "roots": {} }, "clientInfo": { "name": "probe", "version": "9" } } });
        transport.send(Outgoing::encode(&init).unwrap()).await.unwrap();
        transport.set_protocol_version(Some("2025-11-25"), false);
        transport.send(Outgoing::notification("notifications/initialized", None)).await.unwrap();
    }

    #[tokio::test]
    async fn get_stream_delivers_server_messages_resumes_with_last_event_id_and_delete_ends_the_session() {
        let (url, seen) = hyper_server(|req, before| match (&req.method, req.rpc_method()) {
            (&Method::POST, Some("initialize")) => initialized(req, "s1"),
            (&Method::POST, _) => status(202),
            // First GET: one notification with an event id, then the stream ends.
            (&Method::GET, _) if !before.iter().any(|s| s.method == Method::GET) => reply(
                200,
                None,
                Some("text/event-stream"),
                "id: e1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n".into(),
            ),
            // Then: no stream offered.
            (&Method::GET, _) => status(405),
            (&Method::DELETE, _) => status(200),
            _ => status(400),
        })
        .await;
        let inbox = Arc::new(Collect::default());
        let transport = transport(&url, inbox.clone(), 4096);
        handshake(&transport).await;

        until("the notification", || inbox.0.lock().len() == 2).await;
        assert_eq!(inbox.0.lock()[1]["method"], "notifications/tools/list_changed");
        assert_eq!(inbox.1.lock()[1], None, "a GET stream message relates to no request");
        until("the second GET", || seen.lock().iter().filter(|s| s.method == Method::GET).count() == 2).await;

        transport.close().await;
        let seen = seen.lock().clone();
        let gets: Vec<_> = seen.iter().filter(|s| s.method == Method::GET).collect();
        for get in &gets {
            assert_eq!(get.header("accept"), Some("text/event-stream"));
            assert_eq!(get.header("mcp-session-id"), Some("s1"));
            assert_eq!(get.header("mcp-protocol-version"), Some("2025-11-25"));
        }
        assert_eq!(gets[0].header("last-event-id"), None);
        assert_eq!(gets[1].header("last-event-id"), Some("e1"));
        let first_get = seen.iter().position(|s| s.method == Method::GET).unwrap();
        let initialized_at = seen.iter().position(|s| s.rpc_method() == Some("notifications/initialized")).unwrap();
        assert!(initialized_at < first_get, "GET before notifications/initialized");
        let last = seen.last().unwrap();
        assert_eq!(last.method, Method::DELETE);
        assert_eq!(last.header("mcp-session-id"), Some("s1"));
        assert_eq!(gets.len(), 2, "GET again after 405");
    }

    #[tokio::test]
    async fn not_found_for_the_session_reinitializes_once_and_resends_the_request() {
        let (url, seen) = hyper_server(|req, before| {
            let inits = before.iter().filter(|s| s.rpc_method() == Some("initialize")).count();
            match (&req.method, req.rpc_method(), req.header("mcp-session-id")) {
                (&Method::POST, Some("initialize"), None) => initialized(req, &format!("s{}", inits + 1)),
                // As the MCP SDK's session manager answers an unknown session.
                (&Method::POST, Some("tools/list"), Some("s1")) => reply(
                    404,
                    None,
                    Some("application/json"),
                    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "Session not found"}}).to_string(),
                ),
                (&Method::POST, Some("tools/list"), Some("s2")) => {
                    json_reply(None, json!({"jsonrpc": "2.0", "id": req.body["id"], "result": {"tools": []}}))
                }
                (&Method::POST, Some("notifications/initialized"), Some(_)) => status(202),
                (&Method::GET, _, _) => status(405),
                _ => status(400),
            }
        })
        .await;
        let inbox = Arc::new(Collect::default());
        let transport = transport(&url, inbox.clone(), 4096);
        handshake(&transport).await;
        let sent = request();
        transport.send(sent.clone()).await.unwrap();

        let got = inbox.0.lock().clone();
        assert_eq!(got.last().unwrap()["result"], json!({"tools": []}));
        assert_eq!(inbox.1.lock().last().unwrap(), &Some(json!(1)));
        assert_eq!(transport.session_id().as_deref(), Some("s2"));
        assert!(!got.iter().any(|m| m["id"].is_string()), "the re-initialization's answer reached the inbox");

        let seen = seen.lock().clone();
        let posts: Vec<_> = seen.iter().filter(|s| s.method == Method::POST).collect();
        let summary: Vec<_> = posts
            .iter()
            .map(|s| (s.rpc_method().unwrap_or(""), s.header("mcp-session-id").unwrap_or("-")))
            .collect();
        assert_eq!(
            summary,
            [
                ("initialize", "-"),
                ("notifications/initialized", "s1"),
                ("tools/list", "s1"),
                ("initialize", "-"),
                ("notifications/initialized", "s2"),
                ("tools/list", "s2"),
            ]
        );
        // The same client identity, under a request id of the transport's own.
        assert_eq!(posts[3].body["params"], posts[0].body["params"]);
        assert!(posts[3].body["id"].is_string());
        assert_eq!(posts[5].body, posts[2].body, "the request is re-sent unchanged");
        assert_eq!(posts[2].raw, sent.bytes(), "the request is sent as encoded");
        assert_eq!(posts[5].raw, posts[2].raw, "the same bytes");
    }

    #[tokio::test]
    async fn a_second_not_found_fails_with_transport_error() {
        let (url, seen) = hyper_server(|req, before| {
            let inits = before.iter().filter(|s| s.rpc_method() == Some("initialize")).count();
            match (&req.method, req.rpc_method(), req.header("mcp-session-id")) {
                (&Method::POST, Some("initialize"), None) => initialized(req, &format!("s{}", inits + 1)),
                (&Method::POST, Some("notifications/initialized"), Some(_)) => status(202),
                (&Method::GET, _, _) => status(405),
                _ => status(404),
            }
        })
        .await;
        let transport = transport(&url, Arc::default(), 4096);
        handshake(&transport).await;
        let err = transport.send(request()).await.unwrap_err();
        assert!(matches!(err.error, Error::Transport(ref m) if m.contains("404")), "{:?}", err.error);
        let seen = seen.lock();
        assert_eq!(seen.iter().filter(|s| s.rpc_method() == Some("initialize")).count(), 2);
        assert_eq!(seen.iter().filter(|s| s.rpc_method() == Some("tools/list")).count(), 2);
    }

    #[tokio::test]
    async fn get_stream_not_found_reinitializes_and_listens_on_the_new_session() {
        let (url, seen) = hyper_server(|req, before| {
            let inits = before.iter().filter(|s| s.rpc_method() == Some("initialize")).count();
            match (&req.method, req.rpc_method(), req.header("mcp-session-id")) {
                (&Method::POST, Some("initialize"), None) => initialized(req, &format!("s{}", inits + 1)),
                (&Method::POST, Some("notifications/initialized"), Some(_)) => status(202),
                (&Method::GET, _, Some("s1")) => status(404),
                (&Method::GET, _, Some("s2")) => reply(
                    200,
                    None,
                    Some("text/event-stream"),
                    "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"x://y\"}}\n\n".into(),
                ),
                _ => status(405),
            }
        })
        .await;
        let inbox = Arc::new(Collect::default());
        let transport = transport(&url, inbox.clone(), 4096);
        handshake(&transport).await;
        // The first message is the answer to the first initialize.
        until("the notification on the new session", || inbox.0.lock().len() == 2).await;
        assert_eq!(inbox.0.lock()[1]["method"], "notifications/resources/updated");
        assert_eq!(transport.session_id().as_deref(), Some("s2"));
        assert_eq!(seen.lock().iter().filter(|s| s.rpc_method() == Some("initialize")).count(), 2);
    }

    #[tokio::test]
    async fn dropping_the_transport_ends_its_get_stream() {
        // The server holds the GET stream open, writing an SSE comment every
        // 20 ms; once the transport is dropped the connection closes, a write
        // fails and the server drops the stream's body.
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
        let closed_tx = Arc::new(Mutex::new(Some(closed_tx)));
        let (url, seen) = hyper_server(move |req, _| match (&req.method, req.rpc_method()) {
            (&Method::POST, Some("initialize")) => initialized(req, "s1"),
            (&Method::POST, _) => status(202),
            (&Method::GET, _) => {
                struct Signal(Option<tokio::sync::oneshot::Sender<()>>);
                impl Drop for Signal {
                    fn drop(&mut self) {
                        if let Some(tx) = self.0.take() {
                            let _ = tx.send(());
                        }
                    }
                }
                let signal = Signal(closed_tx.lock().take());
                // A body that never ends; dropped when the client goes.
                let body = futures_util::stream::unfold(signal, |signal| async move {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    let comment = hyper::body::Frame::data(Bytes::from_static(b": keep-alive\r\n\r\n"));
                    Some((Ok::<_, std::convert::Infallible>(comment), signal))
                });
                Response::builder()
                    .header(CONTENT_TYPE, "text/event-stream")
                    .body(BodyExt::boxed(http_body_util::StreamBody::new(body)))
                    .unwrap()
            }
            _ => status(400),
        })
        .await;
        let transport = transport(&url, Arc::default(), 4096);
        handshake(&transport).await;
        until("the GET", || seen.lock().iter().any(|s| s.method == Method::GET)).await;
        drop(transport);
        tokio::time::timeout(std::time::Duration::from_secs(10), closed_rx)
            .await
            .expect("the GET stream outlived its transport")
            .unwrap();
    }

    #[tokio::test]
    async fn get_stream_drops_an_event_over_the_size_limit_and_goes_on() {
        let big = format!("{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{{\"data\":\"{}\"}}}}", "x".repeat(5000));
        let small = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}";
        let body = format!("data: {big}\n\ndata: {small}\n\n");
        let (url, seen) = hyper_server(move |req, before| match (&req.method, req.rpc_method()) {
            (&Method::POST, Some("initialize")) => initialized(req, "s1"),
            (&Method::POST, _) => status(202),
            (&Method::GET, _) if before.iter().filter(|s| s.method == Method::GET).count() < 2 => {
                reply(200, None, Some("text/event-stream"), body.clone())
            }
            _ => status(405),
        })
        .await;
        let inbox = Arc::new(Collect::default());
        let transport = transport(&url, inbox.clone(), 4096);
        handshake(&transport).await;
        until("the GET streams", || seen.lock().iter().filter(|s| s.method == Method::GET).count() == 3).await;
        let got = inbox.0.lock().clone();
        // Whether the big event came whole (dropped) or in parts (ending
        // its stream), the small one after it arrives, on one stream or the next.
        assert!(got.iter().any(|m| m["method"] == "notifications/tools/list_changed"), "{got:?}");
        assert!(!got.iter().any(|m| m["method"] == "notifications/message"), "an oversized event was delivered");
    }

    // --- The sessionless 2026-07-28 revision. ---

    #[test]
    fn header_values_are_plain_printable_ascii_or_base64() {
        assert_eq!(header_value("get_weather"), "get_weather");
        assert_eq!(header_value("file:///a b.txt"), "file:///a b.txt");
        // Non-ASCII, edge spaces and a look-alike of the sentinel are wrapped.
        assert_eq!(header_value("café"), "=?base64?Y2Fmw6k=?=");
        assert_eq!(header_value(" x"), "=?base64?IHg=?=");
        assert_eq!(header_value("=?base64?eA==?="), "=?base64?PT9iYXNlNjQ/ZUE9PT89?=");
    }

    #[tokio::test]
    async fn sessionless_requests_carry_routing_headers_and_notifications_stay_home() {
        let (url, seen) = hyper_server(|seen, _| match seen.rpc_method() {
            Some(_) => json_reply(None, json!({ "jsonrpc": "2.0", "id": seen.body["id"], "result": {} })),
            None => status(400),
        })
        .await;
        let transport = transport(&url, Arc::default(), 4096);
        transport.set_protocol_version(Some("2026-07-28"), true);
        let call = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": { "name": "météo", "arguments": {} } });
        transport.send(Outgoing::encode(&call).unwrap()).await.unwrap();
        let read = json!({ "jsonrpc": "2.0", "id": 8, "method": "resources/read", "params": { "uri": "file:///x" } });
        transport.send(Outgoing::encode(&read).unwrap()).await.unwrap();
        transport.send(Outgoing::request(9, "tools/list", None, false).unwrap()).await.unwrap();
        transport
            .send(Outgoing::notification("notifications/cancelled", Some(json!({ "requestId": 7 }))))
            .await
            .unwrap();
        transport.close().await;

        let seen = seen.lock();
        assert_eq!(seen.len(), 3, "no notification, no GET stream, no DELETE: {seen:?}");
        assert!(seen.iter().all(|s| s.method == Method::POST
            && s.header(PROTOCOL_VERSION_HEADER) == Some("2026-07-28")
            && s.header(SESSION_HEADER).is_none()));
        assert_eq!(seen[0].header(METHOD_HEADER), Some("tools/call"));
        assert_eq!(seen[0].header(NAME_HEADER), Some("=?base64?bcOpdMOpbw==?="));
        assert_eq!(seen[1].header(NAME_HEADER), Some("file:///x"));
        assert_eq!(seen[2].header(METHOD_HEADER), Some("tools/list"));
        assert_eq!(seen[2].header(NAME_HEADER), None);
    }

    #[tokio::test]
    async fn sessionless_error_with_http_status_is_the_servers_error_and_no_reinitialization() {
        let (url, seen) = hyper_server(|seen, _| {
            reply(404, None, Some("application/json"), json!({ "jsonrpc": "2.0", "id": seen.body["id"],
                "error": { "code": -32601, "message": "Method not found" } }).to_string())
        })
        .await;
        let transport = transport(&url, Arc::default(), 4096);
        transport.set_protocol_version(Some("2026-07-28"), true);
        let err = transport.send(Outgoing::request(1, "ping", None, false).unwrap()).await.unwrap_err();
        assert!(matches!(err.error, Error::JsonRpc { code: -32601, .. }), "{:?}", err.error);
        assert_eq!(seen.lock().len(), 1);
    }
}
