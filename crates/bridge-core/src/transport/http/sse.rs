//! Server-sent events: the messages of an SSE response stream.

use super::*;

impl Inner {
    /// Hands every message of an SSE response stream to the inbox, until
    /// the response with id `expected` (returned instead, with `capture`).
    pub(super) async fn read_sse(&self, body: Incoming, expected: &Value, capture: bool) -> Result<Option<jsonrpc::Incoming>> {
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
