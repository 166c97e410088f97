//! MCP stdio transport (MCP 2025-06-18, Basic / Transports / stdio):
//! newline-delimited JSON-RPC messages on the server process's stdin and
//! stdout.
//!
//! A reader task frames stdout into lines (tokio-util's `LinesCodec`, with
//! the message size limit) and hands every JSON-RPC message to the
//! [`Inbox`]. A line that is not JSON-RPC (a banner, a stray print) is
//! logged and skipped, never fatal; a line over the size limit is dropped.
//! There is one MCP session per process: every session of the workspace
//! shares it.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, ChildStdout};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

use super::{Inbox, SendError, Transport};
use crate::error::Error;

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
        tokio::spawn(read(stdout, inbox, stray, max_message_bytes));
        StdioTransport {
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            max_message_bytes,
        }
    }

    async fn write(&self, message: Value) -> Result<(), SendError> {
        let mut line = serde_json::to_vec(&message)
            .map_err(|e| SendError::delivered(Error::InvalidArgument(format!("message: {e}"))))?;
        if line.len() > self.max_message_bytes {
            return Err(SendError {
                error: Error::PayloadTooLarge {
                    what: "request",
                    max: self.max_message_bytes,
                },
                maybe_delivered: false,
            });
        }
        line.push(b'\n');
        let mut stdin = self.stdin.lock().await;
        let Some(pipe) = stdin.as_mut() else {
            return Err(SendError {
                error: Error::Transport("stdin is closed".into()),
                maybe_delivered: false,
            });
        };
        pipe.write_all(&line)
            .await
            .map_err(|e| SendError::delivered(Error::Transport(format!("writing to stdin: {e}"))))
    }
}

async fn read(stdout: ChildStdout, inbox: Arc<dyn Inbox>, stray: StrayLines, max_message_bytes: usize) {
    let mut lines = FramedRead::new(stdout, LinesCodec::new_with_max_length(max_message_bytes));
    // After a decoder error FramedRead yields `None` once, then reads on
    // (tokio-rs/tokio#3976): only a `None` that follows no error is the end.
    let mut after_error = false;
    loop {
        match lines.next().await {
            Some(Ok(line)) => match serde_json::from_str::<Value>(&line) {
                Ok(message) if message.get("jsonrpc").is_some() => inbox.deliver(message, None),
                _ => stray(line),
            },
            Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                stray(format!("(a stdout line over {max_message_bytes} bytes was dropped)"));
                after_error = true;
            }
            Some(Err(LinesCodecError::Io(e))) => {
                tracing::debug!(error = %e, "stdio transport: reading stdout");
                break;
            }
            None if after_error => after_error = false,
            None => break,
        }
    }
}

impl Transport for StdioTransport {
    /// Resolves once the message is written; the response reaches the inbox.
    fn send(&self, message: Value) -> BoxFuture<'_, Result<(), SendError>> {
        Box::pin(self.write(message))
    }

    /// Closes stdin, which tells a stdio server to exit.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            drop(self.stdin.lock().await.take());
        })
    }
}
