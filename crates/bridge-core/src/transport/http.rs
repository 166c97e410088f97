//! MCP streamable HTTP client transport (MCP 2025-06-18, Basic / Transports /
//! Streamable HTTP) over TCP loopback, on a pooled hyper 1.x client.
//!
//! Each message is one `POST` with `Accept: application/json,
//! text/event-stream`. A request's answer is either one JSON body or an SSE
//! stream whose events carry server messages until the response to it. The
//! `Mcp-Session-Id` the server issues on `initialize` is sent on every later
//! request, and so is `MCP-Protocol-Version` once negotiated. Every message
//! read from a response goes to the [`Inbox`].

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use parking_lot::RwLock;
use serde_json::Value;
use sse_stream::SseStream;

use std::sync::Arc;

use super::connect::Connector;
use super::{Inbox, SendError, Transport};
use crate::error::{Error, Result};
use crate::jsonrpc::Message;

const SESSION_HEADER: &str = "mcp-session-id";
const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
const ACCEPT_BOTH: &str = "application/json, text/event-stream";

/// How long the rest of an SSE stream may take after its response.
const SSE_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Largest message the transport reads, in bytes.
///
/// # Default
///
/// 16 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Streamable HTTP transport to one MCP endpoint URL.
pub struct HttpTransport {
    client: Client<Connector, Full<Bytes>>,
    url: Uri,
    session_id: RwLock<Option<HeaderValue>>,
    protocol_version: RwLock<Option<HeaderValue>>,
    max_message_bytes: usize,
    inbox: Arc<dyn Inbox>,
}

impl HttpTransport {
    /// A transport to `url` (e.g. `http://127.0.0.1:8123/mcp`) through
    /// `connector` (TCP, or a Unix socket), delivering to `inbox`, reading
    /// messages of at most `max_message_bytes` (bytes; a response stream
    /// counts as one message).
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
            client,
            url,
            session_id: RwLock::new(None),
            protocol_version: RwLock::new(None),
            max_message_bytes,
            inbox,
        })
    }

    /// The MCP session id the server issued, if any.
    pub fn session_id(&self) -> Option<String> {
        self.session_id.read().as_ref().and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    fn build(&self, method: Method, body: Bytes) -> Result<Request<Full<Bytes>>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(self.url.clone())
            .header(ACCEPT, ACCEPT_BOTH)
            .header(CONTENT_TYPE, "application/json");
        if let Some(id) = self.session_id.read().as_ref() {
            builder = builder.header(SESSION_HEADER, id.clone());
        }
        if let Some(version) = self.protocol_version.read().as_ref() {
            builder = builder.header(PROTOCOL_VERSION_HEADER, version.clone());
        }
        builder
            .body(Full::new(body))
            .map_err(|e| Error::InvalidArgument(format!("request: {e}")))
    }

    async fn post(&self, message: Value) -> Result<(), SendError> {
        let expects = match Message::classify(&message).map_err(SendError::delivered)? {
            Message::Request { id, .. } => Some(id),
            _ => None,
        };
        let body = serde_json::to_vec(&message)
            .map_err(|e| SendError::delivered(Error::InvalidArgument(format!("message: {e}"))))?;
        let request = self.build(Method::POST, body.into()).map_err(SendError::delivered)?;
        let response = self.client.request(request).await.map_err(|e| SendError {
            error: Error::Transport(format!("POST {}: {e}", self.url)),
            // A connect error means nothing was written.
            maybe_delivered: !e.is_connect(),
        })?;
        if let Some(id) = response.headers().get(SESSION_HEADER) {
            let mut slot = self.session_id.write();
            if slot.as_ref() != Some(id) {
                *slot = Some(id.clone());
            }
        }
        let status = response.status();
        if !status.is_success() {
            return Err(SendError::delivered(self.http_error(response).await));
        }
        let Some(expected) = expects else {
            // Notifications and responses: 202 Accepted, no body.
            return Ok(());
        };
        if status == StatusCode::ACCEPTED {
            return Err(SendError::delivered(Error::Protocol(
                "server answered a request with 202 Accepted".into(),
            )));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let outcome = if content_type.starts_with("text/event-stream") {
            self.read_sse(response.into_body(), &expected).await
        } else if content_type.starts_with("application/json") {
            match self.read_body(response.into_body()).await {
                Ok(bytes) => serde_json::from_slice::<Value>(&bytes)
                    .map_err(|e| Error::Protocol(format!("invalid JSON response: {e}")))
                    .map(|message| self.inbox.deliver(message, Some(&expected))),
                Err(e) => Err(e),
            }
        } else {
            Err(Error::Protocol(format!(
                "unexpected content type {content_type:?} for a request"
            )))
        };
        outcome.map_err(SendError::delivered)
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
                        max: self.max_message_bytes,
                    }
                } else {
                    Error::Transport(format!("reading response: {e}"))
                }
            })
    }

    /// Hands every message of an SSE response stream to the inbox, until
    /// the response with id `expected`.
    async fn read_sse(&self, body: Incoming, expected: &Value) -> Result<()> {
        let mut messages = std::pin::pin!(sse_messages(body, self.max_message_bytes));
        while let Some(decoded) = messages.next().await {
            let (message, kind) = decoded?;
            let is_answer = matches!(kind, Message::Response { ref id } if id == expected);
            self.inbox.deliver(message, Some(expected));
            if is_answer {
                // Read the stream to its end (the server closes it after the
                // response) so that hyper can reuse the connection; bounded,
                // and the caller already has its answer.
                let drain = async { while messages.next().await.is_some() {} };
                let _ = tokio::time::timeout(SSE_DRAIN_TIMEOUT, drain).await;
                return Ok(());
            }
        }
        Err(Error::Protocol("SSE stream ended without a response".into()))
    }

    async fn http_error(&self, response: Response<Incoming>) -> Error {
        let status = response.status();
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

    async fn delete_session(&self) {
        if self.session_id.read().is_none() {
            return;
        }
        let Ok(request) = self.build(Method::DELETE, Bytes::new()) else {
            return;
        };
        match self.client.request(request).await {
            Ok(response) => tracing::debug!(status = %response.status(), "MCP session deleted"),
            Err(e) => tracing::debug!(error = %e, "MCP session delete failed"),
        }
    }
}

/// Decodes an SSE body (`text/event-stream`) into the JSON-RPC messages its
/// events carry, each with its kind ([`crate::jsonrpc::decode`]), in order.
///
/// Events without data (priming events, keep-alives) are skipped. The whole
/// body counts against `max_message_bytes` (bytes): once more than that has
/// been read the stream yields [`Error::PayloadTooLarge`] (`what:
/// "response"`). Other errors: [`Error::Transport`] when the body fails or
/// is not valid SSE (after which the stream ends), [`Error::Protocol`] for
/// an event whose data is not a JSON-RPC message. An incomplete last event
/// is discarded. The transport reads every SSE response through this.
#[doc(hidden)]
pub fn sse_messages<B>(body: B, max_message_bytes: usize) -> impl Stream<Item = Result<(Value, Message)>>
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
                        max: max_message_bytes,
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
    fn send(&self, message: Value) -> BoxFuture<'_, Result<(), SendError>> {
        Box::pin(self.post(message))
    }

    /// MCP 2025-06-18, Basic / Transports / Streamable HTTP: the client
    /// sends the negotiated version on every request after initialization.
    fn set_protocol_version(&self, version: &str) {
        *self.protocol_version.write() = HeaderValue::from_str(version).ok();
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.delete_session())
    }
}

#[cfg(test)]
mod tests {
    //! Faults a real FastMCP server does not produce on demand (truncated
    //! JSON, a stream that ends early, a closed socket) come from a raw TCP
    //! listener that writes fixed HTTP responses.
    use super::*;
    use parking_lot::Mutex;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[derive(Default)]
    struct Collect(Mutex<Vec<Value>>);

    impl Inbox for Collect {
        fn deliver(&self, message: Value, _related: Option<&Value>) {
            self.0.lock().push(message);
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

    fn request() -> Value {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
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
        assert!(matches!(err.error, Error::PayloadTooLarge { what: "response", max: 32 }), "{:?}", err.error);
    }

    #[tokio::test]
    async fn oversized_sse_stream_is_payload_too_large() {
        let url = serve_once(concat!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
            "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"text\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}\n\n"
        ))
        .await;
        let err = transport(&url, Arc::default(), 32).send(request()).await.unwrap_err();
        assert!(matches!(err.error, Error::PayloadTooLarge { what: "response", max: 32 }), "{:?}", err.error);
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
}
