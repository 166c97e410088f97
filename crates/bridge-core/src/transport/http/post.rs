//! Sending one message: a `POST` with the session headers, and reading
//! its answer, one JSON body or an SSE stream.

use super::params::ParamHeaders;
use super::*;

/// How one POST ended, before re-initialization is considered.
pub(super) enum PostError {
    /// HTTP 404 to a message that carried this session id.
    SessionGone(HeaderValue),
    Failed(SendError),
}

impl From<SendError> for PostError {
    fn from(e: SendError) -> Self {
        PostError::Failed(e)
    }
}

impl Inner {
    pub(super) async fn post(self: &Arc<Self>, message: Outgoing) -> Result<(), SendError> {
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
        let mut listing = None;
        let routing = if sessionless {
            match classified {
                Message::Request { method, .. } if method == "tools/call" && !self.params.read().listed() => {
                    self.list_tools(&message).await;
                }
                Message::Request { method, .. } if method == "tools/list" => listing = Some(first_page(&message)),
                _ => {}
            }
            routing_headers(&message, &self.params.read())
        } else {
            Vec::new()
        };
        // Every attempt sends these same bytes.
        let body = message.bytes().clone();
        let outcome = match self.post_once(body.clone(), expects, true, &routing, listing).await {
            Err(PostError::SessionGone(stale)) => {
                self.reinitialize(&stale).await.map_err(SendError::delivered)?;
                if matches!(classified, Message::Response { .. }) {
                    return Err(SendError::delivered(Error::Transport(
                        "the MCP session ended (HTTP 404) before this response reached the server".into(),
                    )));
                }
                match self.post_once(body, expects, true, &routing, listing).await {
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
    /// `listing`: the body is a `tools/list` request (`Some(true)` without a
    /// `cursor`), whose result the marked arguments are learned from.
    pub(super) async fn post_once(
        &self,
        body: Bytes,
        expects: Option<&Value>,
        with_session: bool,
        routing: &[(HeaderName, HeaderValue)],
        listing: Option<bool>,
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
        if let Some(first_page) = listing {
            let answer = self.read_answer(response, expected, true).await.map_err(SendError::delivered)?;
            if let Some(answer) = answer {
                if let Some(result) = &answer.result {
                    self.params.write().learn(result.get(), first_page);
                }
                self.inbox.deliver(answer, Some(expected));
            }
            return Ok(());
        }
        self.read_answer(response, expected, false)
            .await
            .map(|_| ())
            .map_err(|e| SendError::delivered(e).into())
    }

    pub(super) fn keep_session_id(&self, response: &Response<Incoming>) {
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
    pub(super) async fn read_answer(&self, response: Response<Incoming>, expected: &Value, capture: bool) -> Result<Option<jsonrpc::Incoming>> {
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

    pub(super) async fn read_body(&self, body: Incoming) -> Result<Bytes> {
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

    pub(super) async fn http_error(&self, response: Response<Incoming>) -> Error {
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

    /// Lists the server's tools (every page, at most [`MAX_LISTING_PAGES`])
    /// to learn their marked arguments before the first `tools/call`, with
    /// the revision's `_meta` of that call and request ids of the
    /// transport's own (`fastmcp-bridge/tools-list/<n>/<page>`). Once at a
    /// time; a failure is logged, and the call goes without `Mcp-Param-*`
    /// headers.
    async fn list_tools(&self, call: &Outgoing) {
        let mut failed_at = self.listing.lock().await;
        if self.params.read().listed() || failed_at.is_some_and(|at| at.elapsed() < LISTING_RETRY) {
            return;
        }
        #[derive(serde::Deserialize)]
        struct Call {
            params: Option<CallParams>,
        }
        #[derive(serde::Deserialize)]
        struct CallParams {
            #[serde(rename = "_meta")]
            meta: Option<serde_json::Map<String, Value>>,
        }
        let meta: serde_json::Map<String, Value> = serde_json::from_slice::<Call>(call.bytes())
            .ok()
            .and_then(|c| c.params?.meta)
            .unwrap_or_default()
            .into_iter()
            .filter(|(key, _)| key.starts_with("io.modelcontextprotocol/"))
            .collect();
        let n = self.listings.fetch_add(1, Ordering::Relaxed) + 1;
        let mut cursor: Option<Value> = None;
        // Learned apart and put in place whole: calls meanwhile wait on the
        // lock rather than go with the first pages' marks only.
        let mut learned = ParamHeaders::default();
        for page in 0..MAX_LISTING_PAGES {
            let mut params = json!({ "_meta": meta });
            if let Some(cursor) = cursor.take() {
                params["cursor"] = cursor;
            }
            let id = json!(format!("fastmcp-bridge/tools-list/{n}/{page}"));
            let result = match self.exchange(&id, "tools/list", &params, true).await {
                Ok((_, result)) => result,
                Err(e) => {
                    tracing::debug!(url = %self.url, error = %e, "tools/list for Mcp-Param headers failed");
                    *failed_at = Some(std::time::Instant::now());
                    return;
                }
            };
            learned.learn(result.get(), page == 0);
            #[derive(serde::Deserialize)]
            struct Page {
                #[serde(rename = "nextCursor")]
                next_cursor: Option<Value>,
            }
            match serde_json::from_str::<Page>(result.get()) {
                Ok(Page { next_cursor: Some(next) }) if !next.is_null() => cursor = Some(next),
                _ => break,
            }
        }
        *self.params.write() = learned;
    }
}

/// Most pages [`Inner::list_tools`] reads.
const MAX_LISTING_PAGES: usize = 100;
/// After a failed listing, calls go without `Mcp-Param-*` headers for this
/// long before the transport lists again.
const LISTING_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether a `tools/list` request asks for the first page (no `cursor`).
fn first_page(message: &Outgoing) -> bool {
    #[derive(serde::Deserialize)]
    struct List {
        params: Option<ListParams>,
    }
    #[derive(serde::Deserialize)]
    struct ListParams {
        cursor: Option<Value>,
    }
    serde_json::from_slice::<List>(message.bytes())
        .ok()
        .and_then(|l| l.params?.cursor)
        .is_none_or(|c| c.is_null())
}
