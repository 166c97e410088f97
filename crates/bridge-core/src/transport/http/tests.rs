//! The transport against real HTTP servers on loopback (hyper).
//!
//! Faults a real FastMCP server does not produce on demand (truncated
//! JSON, a stream that ends early, a closed socket) come from a raw TCP
//! listener that writes fixed HTTP responses; exact sequences of session
//! handling (a 404 at a chosen request, a GET stream that ends, what the
//! transport sends) from a local hyper server that records every request.
//! The same behaviour against a real hub is in `tests/sessions.test.js`.
use super::headers::header_value;
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
        Some("tools/list") => json_reply(None, json!({ "jsonrpc": "2.0", "id": seen.body["id"], "result": { "tools": [
            { "name": "météo", "inputSchema": { "type": "object", "properties": {
                "city": { "type": "string", "x-mcp-header": "City" },
                "days": { "type": "integer", "x-mcp-header": "Days" } } } }] } })),
        Some(_) => json_reply(None, json!({ "jsonrpc": "2.0", "id": seen.body["id"], "result": {} })),
        None => status(400),
    })
    .await;
    let transport = transport(&url, Arc::default(), 4096);
    transport.set_protocol_version(Some("2026-07-28"), true);
    let meta = json!({ "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}, "progressToken": 1 });
    let call = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": "météo", "arguments": { "city": "Zürich", "days": 3 }, "_meta": meta } });
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
    assert_eq!(seen.len(), 4, "no notification, no GET stream, no DELETE: {seen:?}");
    assert!(seen.iter().all(|s| s.method == Method::POST
        && s.header(PROTOCOL_VERSION_HEADER) == Some("2026-07-28")
        && s.header(SESSION_HEADER).is_none()));
    // Before the first tools/call, the transport lists the tools for their
    // marked arguments, with the call's reserved _meta alone.
    assert_eq!(seen[0].header(METHOD_HEADER), Some("tools/list"));
    assert_eq!(seen[0].body["id"], "fastmcp-bridge/tools-list/1/0");
    assert_eq!(
        seen[0].body["params"]["_meta"],
        json!({ "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} })
    );
    assert_eq!(seen[1].header(METHOD_HEADER), Some("tools/call"));
    assert_eq!(seen[1].header(NAME_HEADER), Some("=?base64?bcOpdMOpbw==?="));
    assert_eq!(seen[1].header("mcp-param-city"), Some("=?base64?WsO8cmljaA==?="));
    assert_eq!(seen[1].header("mcp-param-days"), Some("3"));
    assert_eq!(seen[2].header(NAME_HEADER), Some("file:///x"));
    assert_eq!(seen[3].header(METHOD_HEADER), Some("tools/list"));
    assert_eq!(seen[3].header(NAME_HEADER), None);
}

#[tokio::test]
async fn a_listing_of_the_callers_teaches_the_marked_arguments_and_a_later_one_forgets_them() {
    let marked = Arc::new(AtomicBool::new(true));
    let server_marked = marked.clone();
    let (url, seen) = hyper_server(move |seen, _| match seen.rpc_method() {
        Some("tools/list") => {
            let schema = if server_marked.load(Ordering::SeqCst) {
                json!({ "properties": { "region": { "type": "string", "x-mcp-header": "Region" } } })
            } else {
                json!({ "properties": { "region": { "type": "string" } } })
            };
            json_reply(None, json!({ "jsonrpc": "2.0", "id": seen.body["id"],
                "result": { "tools": [{ "name": "routed", "inputSchema": schema }] } }))
        }
        Some(_) => json_reply(None, json!({ "jsonrpc": "2.0", "id": seen.body["id"], "result": {} })),
        None => status(400),
    })
    .await;
    let transport = transport(&url, Arc::default(), 4096);
    transport.set_protocol_version(Some("2026-07-28"), true);
    let call = |id: u64| {
        Outgoing::encode(&json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": "routed", "arguments": { "region": "eu" } } }))
        .unwrap()
    };
    transport.send(Outgoing::request(1, "tools/list", None, false).unwrap()).await.unwrap();
    transport.send(call(2)).await.unwrap();
    marked.store(false, Ordering::SeqCst);
    transport.send(Outgoing::request(3, "tools/list", None, false).unwrap()).await.unwrap();
    transport.send(call(4)).await.unwrap();

    let seen = seen.lock();
    assert_eq!(seen.len(), 4, "no listing of the transport's own: {seen:?}");
    assert_eq!(seen[1].header("mcp-param-region"), Some("eu"));
    assert_eq!(seen[3].header("mcp-param-region"), None);
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
