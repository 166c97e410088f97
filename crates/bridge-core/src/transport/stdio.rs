//! MCP stdio transport (MCP 2025-06-18, Basic / Transports / stdio):
//! newline-delimited JSON-RPC messages on the server process's stdin and
//! stdout.
//!
//! A reader task frames stdout into lines (tokio-util's `LinesCodec`, with
//! the message size limit) and hands every JSON-RPC message to the
//! [`Inbox`]. A line that is not JSON-RPC (a banner, a stray print) is
//! logged and skipped, never fatal; a line over the size limit, or not
//! UTF-8, is dropped. When an overlong line is a response whose `id` comes
//! before its `result` or `error` (as the MCP SDKs write them), the call
//! waiting for it fails at once with `PAYLOAD_TOO_LARGE`.
//! There is one MCP session per process: every session of the workspace
//! shares it.

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::process::{ChildStdin, ChildStdout};
use tokio_util::codec::{Decoder, FramedRead, LinesCodec, LinesCodecError};

use super::{Inbox, SendError, Transport};
use crate::error::Error;
use crate::jsonrpc::Outgoing;

/// Where the reader reports lines that are not JSON-RPC.
pub type StrayLines = Arc<dyn Fn(String) + Send + Sync>;

/// Stdio transport over one child process.
pub struct StdioTransport {
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    max_message_bytes: usize,
}

impl StdioTransport {
    /// Starts reading `stdout` into `inbox`; writes go to `stdin`. Lines
    /// that are not JSON-RPC go to `stray`.
    pub fn new(
        stdin: ChildStdin,
        stdout: ChildStdout,
        inbox: Arc<dyn Inbox>,
        stray: StrayLines,
        max_message_bytes: usize,
    ) -> Self {
        tokio::spawn(read_messages(stdout, inbox, stray, max_message_bytes));
        StdioTransport {
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            max_message_bytes,
        }
    }

    async fn write(&self, message: Outgoing) -> Result<(), SendError> {
        if message.len() > self.max_message_bytes {
            return Err(SendError {
                error: Error::PayloadTooLarge {
                    what: "request",
                    max: Some(self.max_message_bytes),
                },
                maybe_delivered: false,
            });
        }
        // The message's bytes and the newline, in one vectored write when
        // the pipe takes it all.
        let mut line = message.bytes().clone().chain(&b"\n"[..]);
        let mut stdin = self.stdin.lock().await;
        let Some(pipe) = stdin.as_mut() else {
            return Err(SendError {
                error: Error::Transport("stdin is closed".into()),
                maybe_delivered: false,
            });
        };
        pipe.write_all_buf(&mut line)
            .await
            .map_err(|e| SendError::delivered(Error::Transport(format!("writing to stdin: {e}"))))
    }
}

/// Reads newline-delimited JSON-RPC from `stdout` until it ends or fails:
/// every line that is a JSON-RPC message ([`crate::jsonrpc::decode`]) goes
/// to `inbox`, every other line to `stray`; a line over `max_message_bytes`
/// (bytes, without its newline), or not UTF-8, is dropped with a note to
/// `stray`, and reading goes on. The transport's reader task runs this on
/// the child's stdout.
#[doc(hidden)]
pub async fn read_messages<R: AsyncRead + Unpin>(
    stdout: R,
    inbox: Arc<dyn Inbox>,
    stray: StrayLines,
    max_message_bytes: usize,
) {
    let mut lines = FramedRead::new(stdout, Lines(LinesCodec::new_with_max_length(max_message_bytes)));
    while let Some(line) = lines.next().await {
        match line {
            Ok(Line::Text(text)) => match crate::jsonrpc::decode(text.as_bytes()) {
                Ok(message) => inbox.deliver(message, None),
                Err(_) => stray(text),
            },
            Ok(Line::TooLong(id)) => {
                stray(format!("(a stdout line over {max_message_bytes} bytes was dropped)"));
                if let Some(id) = id {
                    let error = Error::PayloadTooLarge {
                        what: "response",
                        max: Some(max_message_bytes),
                    };
                    inbox.fail(&id, error);
                }
            }
            Ok(Line::NotUtf8) => stray("(a stdout line that is not UTF-8 was dropped)".into()),
            Err(e) => {
                tracing::debug!(error = %e, "stdio transport: reading stdout");
                break;
            }
        }
    }
}

/// One line of stdout, as [`Lines`] frames it.
enum Line {
    Text(String),
    /// Over the size limit: dropped. The `id` when the line is a response
    /// that names it before its `result` or `error`.
    TooLong(Option<Value>),
    /// Not UTF-8: dropped.
    NotUtf8,
}

/// `LinesCodec` with its per-line errors turned into frames, so that the
/// reader goes on after them. Were they decoder errors, `FramedRead` would
/// read stdout again before decoding the lines it already holds
/// (tokio-rs/tokio#3976): a response behind an overlong line would wait for
/// the server's next write. The codec reports a line that is not UTF-8 as
/// an I/O error, after consuming it.
struct Lines(LinesCodec);

impl Lines {
    /// `buf` is as the codec left it: when it reports an overlong line, it
    /// has not consumed any of it yet, so `buf` starts with that line.
    fn frame(decoded: Result<Option<String>, LinesCodecError>, buf: &BytesMut) -> std::io::Result<Option<Line>> {
        match decoded {
            Ok(line) => Ok(line.map(Line::Text)),
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                let start = &buf[..buf.len().min(RESPONSE_ID_WINDOW)];
                Ok(Some(Line::TooLong(response_id(start))))
            }
            // The codec does no I/O: its only I/O error is invalid UTF-8.
            Err(LinesCodecError::Io(_)) => Ok(Some(Line::NotUtf8)),
        }
    }
}

impl Decoder for Lines {
    type Item = Line;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> std::io::Result<Option<Line>> {
        let decoded = self.0.decode(buf);
        Self::frame(decoded, buf)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> std::io::Result<Option<Line>> {
        let decoded = self.0.decode_eof(buf);
        Self::frame(decoded, buf)
    }
}

/// How many bytes at the start of an overlong line are searched for the
/// `id` of a response.
const RESPONSE_ID_WINDOW: usize = 4096;

/// The `id` of the JSON-RPC response that `start` (the beginning of a
/// message cut off anywhere) begins, when its members name the `id` before
/// the `result` or `error`; `None` for anything else (a request or a
/// notification, an `id` after the result, text that is not JSON). Parsed
/// by serde_json, member by member, stopping at `result` or `error`.
fn response_id(start: &[u8]) -> Option<Value> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};

    /// Members seen until the first `result`, `error` or `method`.
    #[derive(Default)]
    struct Seen {
        id: Option<Value>,
        response: bool,
    }

    struct Members<'a>(&'a mut Seen);

    impl<'de> Visitor<'de> for Members<'_> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON-RPC message")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match &*key {
                    "id" => self.0.id = Some(map.next_value()?),
                    "result" | "error" => {
                        self.0.response = true;
                        break;
                    }
                    "method" => break,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            // The rest is cut off: stop here. serde_json then reports the
            // unfinished object, which is expected and ignored.
            Err(serde::de::Error::custom("stopped"))
        }
    }

    let mut seen = Seen::default();
    let _ = serde_json::Deserializer::from_slice(start).deserialize_map(Members(&mut seen));
    seen.response.then_some(seen.id).flatten()
}

impl Transport for StdioTransport {
    fn relates_server_requests(&self) -> bool {
        false
    }

    /// Resolves once the message is written; the response reaches the inbox.
    fn send(&self, message: Outgoing) -> BoxFuture<'_, Result<(), SendError>> {
        Box::pin(self.write(message))
    }

    /// Closes stdin, which tells a stdio server to exit.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            drop(self.stdin.lock().await.take());
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    /// The messages delivered, and the ids of the calls failed.
    #[derive(Default)]
    struct Collect(Mutex<Vec<Value>>, Mutex<Vec<(Value, String)>>);

    impl Inbox for Collect {
        fn deliver(&self, message: crate::jsonrpc::Incoming, _related: Option<&Value>) {
            self.0.lock().push(message.into_value().unwrap());
        }

        fn fail(&self, id: &Value, error: Error) {
            self.1.lock().push((id.clone(), error.name().unwrap_or_default().to_owned()));
        }
    }

    /// Stdout that hands out `chunks`, one per read, then ends; each read
    /// records how many messages the inbox had by then.
    struct Chunks {
        chunks: VecDeque<Vec<u8>>,
        inbox: Arc<Collect>,
        delivered_at_reads: Arc<Mutex<Vec<usize>>>,
    }

    impl AsyncRead for Chunks {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
            let delivered = self.inbox.0.lock().len();
            self.delivered_at_reads.lock().push(delivered);
            if let Some(chunk) = self.chunks.pop_front() {
                buf.put_slice(&chunk);
            }
            Poll::Ready(Ok(()))
        }
    }

    /// Runs the reader over `chunks` (each smaller than the read buffer);
    /// returns the messages, the stray lines and the inbox size at each read.
    async fn run(chunks: &[&[u8]], max: usize) -> (Vec<Value>, Vec<String>, Vec<usize>) {
        let inbox = Arc::new(Collect::default());
        let strays = Arc::new(Mutex::new(Vec::new()));
        let reads = Arc::new(Mutex::new(Vec::new()));
        let stdout = Chunks {
            chunks: chunks.iter().map(|c| c.to_vec()).collect(),
            inbox: inbox.clone(),
            delivered_at_reads: reads.clone(),
        };
        let sink = strays.clone();
        read_messages(stdout, inbox.clone(), Arc::new(move |line| sink.lock().push(line)), max).await;
        let messages = inbox.0.lock().clone();
        let strays = strays.lock().clone();
        let reads = reads.lock().clone();
        (messages, strays, reads)
    }

    const PING: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n";

    #[tokio::test]
    async fn banners_go_to_stray_and_messages_to_the_inbox() {
        let (messages, strays, _) = run(&[b"starting up\n", PING, b"{\"not\":\"rpc\"}\n"], 64).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["id"], 1);
        assert_eq!(strays, ["starting up", "{\"not\":\"rpc\"}"]);
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_dropped_and_what_follows_it_is_read() {
        let (messages, strays, _) = run(&[b"0123456789012345678901234567890123456789\n", PING], 39).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(strays, ["(a stdout line over 39 bytes was dropped)"]);
    }

    /// Regression (found by the `stdio` fuzz target): after an overlong line,
    /// the lines already read behind it waited for the server's next write.
    #[tokio::test]
    async fn a_message_read_with_an_overlong_line_is_delivered_before_the_next_read() {
        let mut chunk = vec![b'x'; 100];
        chunk.push(b'\n');
        chunk.extend_from_slice(PING);
        let (messages, _, reads) = run(&[&chunk], 64).await;
        assert_eq!(messages.len(), 1);
        // First read: nothing yet; second read (stdout's end): the message is in.
        assert_eq!(reads[..2], [0, 1]);
    }

    /// Regression (the `stdio` fuzz target checks it too): a stdout line
    /// that was not UTF-8 ended the reader, so no later response arrived.
    #[tokio::test]
    async fn a_line_that_is_not_utf8_is_skipped_and_reading_goes_on() {
        let (messages, strays, _) = run(&[b"caf\xe9\n", PING], 64).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(strays, ["(a stdout line that is not UTF-8 was dropped)"]);
    }

    #[tokio::test]
    async fn an_overlong_response_fails_its_call_with_payload_too_large() {
        let inbox = Arc::new(Collect::default());
        let mut line = b"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"text\":\"".to_vec();
        line.extend(std::iter::repeat_n(b'x', 200));
        line.extend_from_slice(b"\"}}\n");
        line.extend_from_slice(PING);
        read_messages(&line[..], inbox.clone(), Arc::new(|_| {}), 64).await;
        assert_eq!(*inbox.1.lock(), [(Value::from(7), "PAYLOAD_TOO_LARGE".to_owned())]);
        assert_eq!(inbox.0.lock().len(), 1, "the response after it is still delivered");
    }

    #[test]
    fn response_id_reads_the_id_before_the_result_or_error_only() {
        let id = |text: &str| response_id(text.as_bytes());
        assert_eq!(id(r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"te"#), Some(Value::from(3)));
        assert_eq!(id(r#"{"id":"a-1","jsonrpc":"2.0","error":{"code":-1,"mess"#), Some(Value::from("a-1")));
        assert_eq!(id(r#"{ "jsonrpc" : "2.0", "id" : 4 , "result":"#), Some(Value::from(4)));
        // A server request or notification is no call's response.
        assert_eq!(id(r#"{"jsonrpc":"2.0","id":5,"method":"sampling/createMessage","params":{"#), None);
        assert_eq!(id(r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"dat"#), None);
        // The id comes after the cut-off result, or not at all.
        assert_eq!(id(r#"{"jsonrpc":"2.0","result":{"content":"xxxx"#), None);
        assert_eq!(id(r#"{"jsonrpc":"2.0","id":6"#), None);
        assert_eq!(id("not json at all"), None);
        assert_eq!(id(r#"["a", "b"]"#), None);
        assert_eq!(id(""), None);
    }
}
