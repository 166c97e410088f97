//! The session's `GET` stream ("Listening for Messages from the Server").

use super::*;
use crate::backoff::Backoff;

/// How one `GET` stream ended.
pub(super) enum Listen {
    /// 405, or no session: the server offers no stream; stop trying.
    NotOffered,
    /// The connection was refused: the server is gone, for now (a remote
    /// one may come back; a local process's transport is closed by its
    /// supervisor): try again with backoff.
    Unreachable,
    /// 404 for this session id.
    SessionGone(HeaderValue),
    /// The stream ended or failed; `delivered` when it carried a message.
    Ended { delivered: bool },
}

impl Inner {
    /// Starts the `GET` stream task, once.
    pub(super) fn listen(self: &Arc<Self>) {
        if self.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(self.clone().listen_loop());
    }

    /// Keeps the session's `GET` stream open until the transport closes.
    pub(super) async fn listen_loop(self: Arc<Self>) {
        let mut backoff = Backoff::new(STREAM_RETRY_FIRST, 2, STREAM_RETRY_MAX);
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
                Listen::Unreachable => {}
                Listen::SessionGone(stale) => {
                    let reinitialize = tokio::select! {
                        _ = self.closed.cancelled() => return,
                        outcome = self.reinitialize(&stale) => outcome,
                    };
                    if let Err(e) = reinitialize {
                        tracing::warn!(url = %self.url, error = %e, "could not re-initialize the MCP session");
                    } else {
                        backoff.reset();
                        continue;
                    }
                }
                Listen::Ended { delivered: true } => backoff.reset(),
                Listen::Ended { delivered: false } => {}
            }
            let delay = backoff.next().unwrap_or(STREAM_RETRY_MAX);
            let wait = server_retry.unwrap_or(delay).min(STREAM_RETRY_MAX);
            tokio::select! {
                _ = self.closed.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Opens the `GET` stream once and reads it to its end.
    pub(super) async fn listen_once(
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
}
