//! The core request path without I/O: enqueue (queue::Queue) -> correlate
//! (pending::Pending) -> settle, as a call does it around its HTTP round
//! trip. Run with `cargo bench -p fastmcp-bridge-core --bench core_path`;
//! each benchmark is one call, so criterion's `elem/s` is calls per second.

use std::hint::black_box;

use bridge_core::jsonrpc::{self, Incoming, Message, Outgoing, Params};
use bridge_core::pending::{Entry, Pending};
use bridge_core::queue::{Queue, Priority};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::FutureExt;
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

/// What FastMCP answers to `tools/call` of `echo` with `{"text": "hello"}`.
const ECHO_RESPONSE: &[u8] = br#"{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"hello"}],"structuredContent":{"result":"hello"},"isError":false}}"#;

fn limiter() -> Queue {
    // The defaults of a workspace: 20 in flight, 200 queued.
    Queue::new(20, 200)
}

/// Takes a free slot (the fast path: nobody waits).
fn enqueue(limiter: &Queue) -> bridge_core::queue::Permit {
    limiter
        .acquire(Priority::Normal, 0)
        .expect("room in the queue")
        .now_or_never()
        .expect("a free slot")
}

/// A decoded response to call `id` with result `{}`, built without parsing.
fn empty_response(id: u64) -> Incoming {
    Incoming {
        message: json!({"jsonrpc": "2.0", "id": id}),
        kind: Message::Response { id: json!(id) },
        result: Some(RawValue::from_string("{}".to_owned()).expect("JSON")),
    }
}

/// Registers call `id` and settles it with `response`; returns the reply.
fn correlate_and_settle(pending: &Pending, id: u64, response: Incoming) -> Box<RawValue> {
    let (reply, mut replied) = oneshot::channel();
    if pending.insert(id, Entry::new(reply)).is_err() {
        panic!("duplicate id {id}");
    }
    assert!(pending.complete(response));
    replied.try_recv().expect("settled").expect("a response")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_path");
    group.throughput(Throughput::Elements(1));

    group.bench_function("limiter_acquire_release", |b| {
        let limiter = limiter();
        b.iter(|| drop(black_box(enqueue(&limiter))));
    });

    group.bench_function("pending_insert_complete", |b| {
        let pending = Pending::new();
        let mut id = 0u64;
        b.iter(|| {
            id += 1;
            black_box(correlate_and_settle(&pending, id, empty_response(id)))
        });
    });

    // enqueue -> correlate -> settle: the path of one call, minus the send.
    group.bench_function("enqueue_correlate_settle", |b| {
        let limiter = limiter();
        let pending = Pending::new();
        let mut id = 0u64;
        b.iter(|| {
            id += 1;
            let permit = enqueue(&limiter);
            let response = correlate_and_settle(&pending, id, empty_response(id));
            drop(permit);
            black_box(response)
        });
    });

    // The same with the JSON work done per call: check the params' JSON
    // text (as the binding gets it from JS) and encode the request around
    // it, decode and classify the response keeping its result as text, and
    // hand that text on (as the binding does to JS).
    group.bench_function("enqueue_correlate_settle_json", |b| {
        let limiter = limiter();
        let pending = Pending::new();
        let mut id = 0u64;
        b.iter(|| {
            id += 1;
            let permit = enqueue(&limiter);
            let params = Params::from_json(r#"{"name":"echo","arguments":{"text":"hello"}}"#.to_owned()).expect("params");
            let request = Outgoing::request(id, "tools/call", Some(&params), false).expect("encodes");
            black_box(request.bytes());
            let text = String::from_utf8_lossy(ECHO_RESPONSE).replace("ID", &id.to_string());
            let response = jsonrpc::decode(text.as_bytes()).expect("decodes");
            assert!(matches!(response.kind, Message::Response { .. }));
            let reply = correlate_and_settle(&pending, id, response);
            drop(permit);
            black_box(String::from(Box::<str>::from(reply)))
        });
    });

    // A call that waits for a slot: the slot passes from a finishing call
    // to the first waiter.
    group.bench_function("enqueue_wait_grant", |b| {
        let limiter = Queue::new(1, 200);
        let mut held = Some(enqueue(&limiter));
        b.iter(|| {
            let waiting = limiter.acquire(Priority::Normal, 0).expect("room in the queue");
            drop(held.take());
            held = Some(waiting.now_or_never().expect("granted"));
        });
    });

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
