//! Newline framing of a stdio server's stdout
//! (`bridge_core::transport::stdio::read_messages`, the transport's reader
//! task: tokio-util's `LinesCodec` with the size limit), on stdout cut into
//! fuzzer-chosen reads and a fuzzer-chosen limit (see `fuzz_input::Input`):
//!
//! - it never panics, and ends when stdout ends;
//! - what reaches the inbox and the stray-line sink is, in order, one
//!   report per line: the message, the line itself, or a note that the line
//!   was over the limit (or not UTF-8) and dropped; decoding resumes after
//!   such a line;
//! - every line whose newline has been read is reported before the reader
//!   asks stdout for more (a response never waits for the server's next
//!   write).
#![no_main]

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bridge_core::jsonrpc::{decode, Incoming};
use bridge_core::transport::stdio::read_messages;
use bridge_core::transport::Inbox;
use futures_util::FutureExt;
use fuzz_input::Input;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokio::io::{AsyncRead, ReadBuf};

#[derive(Debug, PartialEq)]
enum Report {
    /// A message without a response's `result`, and that result's text.
    Message(Value, Option<String>),
    Stray(String),
}

#[derive(Default)]
struct Reports(Mutex<Vec<Report>>);

impl Inbox for Reports {
    fn deliver(&self, message: Incoming, related: Option<&Value>) {
        assert!(related.is_none());
        self.0.lock().unwrap().push(report(message));
    }
}

/// Stdout: hands out the chunks in order, at most one per read, then ends.
struct Stdout<'a> {
    input: &'a Input<'a>,
    chunk: usize,
    offset: usize,
    consumed: usize,
    reports: Arc<Reports>,
}

impl AsyncRead for Stdout<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let read = &self.input.body[..self.consumed];
        let lines_read = read.iter().filter(|&&b| b == b'\n').count();
        let reported = self.reports.0.lock().unwrap().len();
        assert!(
            reported >= lines_read,
            "asked for more with {lines_read} lines read and {reported} reported: {read:?}"
        );
        while self.chunk < self.input.chunks.len() {
            let chunk = self.input.chunks[self.chunk];
            if self.offset == chunk.len() {
                self.chunk += 1;
                self.offset = 0;
                continue;
            }
            let n = buf.remaining().min(chunk.len() - self.offset);
            buf.put_slice(&chunk[self.offset..self.offset + n]);
            self.offset += n;
            self.consumed += n;
            break;
        }
        Poll::Ready(Ok(()))
    }
}

fn report(message: Incoming) -> Report {
    Report::Message(message.message, message.result.map(|r| r.get().to_owned()))
}

/// What the reader should report for one line (without its newline).
fn expect(line: &[u8], max: usize) -> Report {
    if line.len() > max {
        return Report::Stray(format!("(a stdout line over {max} bytes was dropped)"));
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(text) = std::str::from_utf8(line) else {
        return Report::Stray("(a stdout line that is not UTF-8 was dropped)".into());
    };
    match decode(line) {
        Ok(message) => report(message),
        Err(_) => Report::Stray(text.to_owned()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let mut expected = Vec::new();
    let mut rest = input.body;
    while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
        expected.push(expect(&rest[..newline], input.max));
        rest = &rest[newline + 1..];
    }
    // The unterminated end of stdout is a line too, unless empty or a lone CR.
    if rest.len() > input.max || !(rest.is_empty() || rest == b"\r") {
        expected.push(expect(rest, input.max));
    }

    let reports = Arc::new(Reports::default());
    let stdout = Stdout {
        input: &input,
        chunk: 0,
        offset: 0,
        consumed: 0,
        reports: reports.clone(),
    };
    let sink = reports.clone();
    let stray = Arc::new(move |line: String| sink.0.lock().unwrap().push(Report::Stray(line)));
    read_messages(stdout, reports.clone(), stray, input.max)
        .now_or_never()
        .expect("the reader ends when stdout ends");
    assert_eq!(*reports.0.lock().unwrap(), expected);
});
