//! SSE decoding of a streamable HTTP response
//! (`bridge_core::transport::http::sse_messages`, which the transport reads
//! every SSE response through), on a body cut into fuzzer-chosen chunks and
//! a fuzzer-chosen size limit (see `fuzz_input::Input`):
//!
//! - it never panics, and never waits on a body that is always ready;
//! - within the limit, the messages and the error that ends them do not
//!   depend on where the body was cut;
//! - over the limit, the stream ends in an error, and what came before it
//!   is what the first `max` bytes alone decode to: nothing past the limit
//!   was read.
#![no_main]

use std::convert::Infallible;

use bridge_core::transport::http::sse_messages;
use bridge_core::Error;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use fuzz_input::Input;
use http_body_util::StreamBody;
use hyper::body::Frame;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The messages decoded before the stream ended (each without a response's
/// `result`, and that result's text), and the error that ended it.
#[derive(Debug)]
struct Outcome {
    messages: Vec<(Value, Option<String>)>,
    error: Option<Error>,
}

fn run(chunks: &[&[u8]], max: usize) -> Outcome {
    let frames = chunks
        .iter()
        .map(|c| Ok::<_, Infallible>(Frame::data(Bytes::copy_from_slice(c))))
        .collect::<Vec<_>>();
    let body = StreamBody::new(futures_util::stream::iter(frames));
    let mut stream = std::pin::pin!(sse_messages(body, max));
    let mut messages = Vec::new();
    loop {
        match stream.next().now_or_never().expect("decoding a ready body never waits") {
            None => return Outcome { messages, error: None },
            Some(Ok(message)) => messages.push((message.message, message.result.map(|r| r.get().to_owned()))),
            // The transport stops at the first error.
            Some(Err(error)) => return Outcome { messages, error: Some(error) },
        }
    }
}

fn same_error(a: &Option<Error>, b: &Option<Error>) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let chunked = run(&input.chunks, input.max);
    if input.body.len() <= input.max {
        let whole = run(&[input.body], usize::MAX);
        assert_eq!(chunked.messages, whole.messages, "cut at other points: {whole:?}");
        assert!(same_error(&chunked.error, &whole.error), "{chunked:?} vs {whole:?}");
    } else {
        let prefix = run(&[&input.body[..input.max]], usize::MAX);
        let n = chunked.messages.len();
        assert!(n <= prefix.messages.len(), "{chunked:?} read past the limit; {prefix:?}");
        assert_eq!(chunked.messages, prefix.messages[..n]);
        match &chunked.error {
            Some(Error::PayloadTooLarge { what: "response", max }) => assert_eq!(*max, Some(input.max)),
            Some(_) => {
                assert_eq!(n, prefix.messages.len());
                assert!(same_error(&chunked.error, &prefix.error), "{chunked:?} vs {prefix:?}");
            }
            None => panic!("a body over the limit ended without an error: {chunked:?}"),
        }
    }
});
