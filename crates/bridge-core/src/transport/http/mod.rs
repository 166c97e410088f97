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
//! again after 100 ms doubling to 5 s, with jitter (back to 100 ms after a
//! stream that carried a message; the server's SSE `retry` instead, when
//! given), with `Last-Event-ID` when the server gave event ids, until the
//! transport is closed or dropped, or the connection is refused (the process
//! is gone). An SSE event on it over the message size limit is dropped (and
//! ends that stream when it arrives in parts).
//!
//! An HTTP `404` to a request that carried a session id means the server
//! ended the session ("Session Management", item 4): the transport starts a
//! new one with the same `initialize` parameters (a request id of its own,
//! `fastmcp-bridge/reinitialize/<n>`, so it cannot collide with a call), then
//! `notifications/initialized`, and sends the refused message again on the
//! new session, once: a `404` means the server did not process it. A response
//! to a server request of the ended session is not re-sent (that request died
//! with it). A second `404` fails the message with `TRANSPORT_ERROR`.
//! Messages refused while another message re-initializes wait for it and go
//! on the new session; the `GET` stream's own `404` re-initializes the same
//! way. What the client had set on the ended session and the server kept for
//! it (logging level, resource subscriptions; see `HttpTransport::renewing`)
//! is then set again on the new one, before the refused message goes.
//!
//! [`Transport::close`] stops the `GET` stream and sends `DELETE` with the
//! session id ("Session Management", item 5).
//!
//! The code follows these concerns: `post.rs` sends a message and reads its
//! answer, `sse.rs` reads SSE streams, `listen.rs` keeps the `GET` stream,
//! `session.rs` renews and ends the MCP session, `headers.rs` builds the
//! requests' headers.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyDataStream, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
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

mod headers;
mod listen;
mod params;
mod post;
mod session;
mod sse;

pub use sse::sse_messages;

use headers::routing_headers;
use params::ParamHeaders;
use post::PostError;

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
/// [`STREAM_RETRY_MAX`], with jitter ([`crate::backoff::Backoff`]), and
/// starts over after a stream that carried a message (a server that closes
/// every stream at once is not polled fast).
const STREAM_RETRY_FIRST: Duration = Duration::from_millis(100);
/// Idle pooled connections are dropped after this: below the 5 s keep-alive
/// of uvicorn (the hub) and of Node's HTTP server (another bridge's Express
/// endpoint), so a request is never written onto a connection the server is
/// closing.
const POOL_IDLE: Duration = Duration::from_secs(4);
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
    /// The tools' marked arguments, learned from `tools/list` results
    /// (sessionless revision).
    params: RwLock<ParamHeaders>,
    /// Held while the transport lists the tools for their marked
    /// arguments; when the last listing failed, and when.
    listing: tokio::sync::Mutex<Option<std::time::Instant>>,
    /// Listings the transport made (names their request ids).
    listings: AtomicU64,
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
    /// Sent with every request ([`HttpTransport::with_headers`]).
    headers: Vec<(HeaderName, HeaderValue)>,
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
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(POOL_IDLE).build(connector);
        Ok(HttpTransport {
            inner: Arc::new(Inner {
                client,
                url,
                session_id: RwLock::new(None),
                protocol_version: RwLock::new(None),
                sessionless: AtomicBool::new(false),
                params: RwLock::new(ParamHeaders::default()),
                listing: tokio::sync::Mutex::new(None),
                listings: AtomicU64::new(0),
                max_message_bytes,
                inbox,
                initialize: Mutex::new(None),
                reinitializing: tokio::sync::Mutex::new(()),
                reinitializations: AtomicU64::new(0),
                listening: AtomicBool::new(false),
                closed: CancellationToken::new(),
                renewal: None,
                headers: Vec::new(),
            }),
        })
    }

    /// Sends `headers` (name, value) with every request, before the
    /// transport's own.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name or value HTTP does not allow.
    pub fn with_headers(mut self, headers: &[(String, String)]) -> Result<Self> {
        let inner = Arc::get_mut(&mut self.inner).expect("a new transport has one owner");
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| Error::InvalidArgument(format!("header {name:?}: {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| Error::InvalidArgument(format!("header {name}: {e}")))?;
            inner.headers.push((name, value));
        }
        Ok(self)
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
mod tests;
