//! JSON-RPC decoding (`bridge_core::jsonrpc::decode`, which the transports
//! run on every message a server sends): arbitrary bytes never panic; what
//! decodes reads as serde_json reads the whole message, with a response's
//! `result` kept as the server's text; a message that decodes round-trips
//! through encoding and through the core's constructors; a response's
//! `into_result` agrees with its `result` / `error`. And what `relayable`
//! (the Express endpoint's fast path, on every client POST) lets through
//! is a request a full parse agrees with, its id text the one JSON
//! writers give, without a progress token or a locally answered method.
#![no_main]

use bridge_core::jsonrpc::{decode, into_result, notification, relayable, request, Message, Outgoing, Params};
use bridge_core::Error;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The map key serde_json reserves for its RawValue.
const RESERVED_KEY: &[u8] = b"\"$serde_json::private::RawValue\"";

/// Checks what `relayable` lets through against a full parse.
fn check_relayable(data: &[u8]) {
    let Some(relayed) = relayable(data) else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        // A number a Value cannot hold (beyond an f64) in a member the fast
        // path does not read: still JSON syntax.
        let skipped = serde_json::from_slice::<Box<serde_json::value::RawValue>>(data);
        assert!(skipped.is_ok(), "relayable but not JSON: {}", String::from_utf8_lossy(data));
        return;
    };
    assert_eq!(value.get("jsonrpc"), Some(&Value::from("2.0")));
    assert_eq!(value.get("method").and_then(Value::as_str), Some(relayed.method.as_ref()));
    assert!(!["initialize", "ping", "server/discover"].contains(&relayed.method.as_ref()));
    let id: Value = serde_json::from_str(relayed.id.get()).expect("the id is JSON");
    assert_eq!(value.get("id"), Some(&id));
    assert!(id.is_string() || id.as_i64().is_some_and(|n| n.unsigned_abs() < 1 << 53));
    assert_eq!(serde_json::to_string(&id).unwrap(), relayed.id.get(), "the id's text is a writer's");
    match relayed.params {
        None => assert!(value.get("params").is_none_or(Value::is_null)),
        Some(params) => {
            let parsed: Value = serde_json::from_str(params.get()).expect("params are JSON");
            assert_eq!(value.get("params"), Some(&parsed));
            assert!(parsed.is_object() || parsed.is_array());
            assert!(parsed.pointer("/_meta/progressToken").is_none());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_relayable(data);
    let Ok(incoming) = decode(data) else {
        return;
    };
    let kind = incoming.kind.clone();
    let raw_result = incoming.result.as_ref().map(|r| r.get().to_owned());
    if let Some(raw) = &raw_result {
        // The result's text is a slice of what the server sent.
        assert!(data.windows(raw.len()).any(|w| w == raw.as_bytes()));
    }
    let parsed = serde_json::from_slice::<Value>(data);
    let value = match incoming.into_value() {
        Ok(value) => value,
        Err(_) => {
            // Only a result is checked as JSON syntax alone: a number in it
            // may be out of the range of an f64, which a Value cannot hold.
            assert!(raw_result.is_some() && parsed.is_err(), "{}", String::from_utf8_lossy(data));
            return;
        }
    };
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(_) => {
            // serde_json checks the `\u` escapes of a string it skips (a
            // member the core does not read, or an earlier one of a repeated
            // key) less strictly than those of a string it reads: `"\ud83d\f"`
            // passes the one and not the other. Such a message is still JSON
            // syntax, which is what skipping it as a whole checks.
            let skipped = serde_json::from_slice::<Box<serde_json::value::RawValue>>(data);
            assert!(skipped.is_ok(), "decodes but is not JSON: {}", String::from_utf8_lossy(data));
            return;
        }
    };
    assert_eq!(value, parsed, "decode and a full parse disagree");
    assert_eq!(Message::classify(&value).ok().as_ref(), Some(&kind));

    // What the core decoded, encoded again, decodes to the same message.
    let encoded = serde_json::to_vec(&value).expect("a decoded message encodes");
    if encoded.windows(RESERVED_KEY.len()).any(|w| w == RESERVED_KEY) {
        // serde_json (feature `raw_value`) reads an object whose first key is
        // this one as a RawValue, not as a map. A message holding it elsewhere
        // in an object decodes; encoding a Value sorts the keys, which can put
        // it first. No JSON-RPC or MCP message names this key.
        return;
    }
    let again = decode(&encoded).expect("an encoded message decodes");
    assert_eq!(again.kind, kind);
    assert_eq!(again.into_value().ok(), Some(value.clone()), "round trip of {}", String::from_utf8_lossy(data));

    let params = value.get("params").cloned();
    match &kind {
        Message::Request { id, method } => {
            if let Some(id) = id.as_u64() {
                let built = serde_json::to_vec(&request(id, method, params.clone())).unwrap();
                let built = decode(&built).expect("a built request decodes");
                assert_eq!(built.kind, kind);
                assert_eq!(built.message.get("params"), params.as_ref());
                // Encoded once, with params spliced in as text.
                let object_or_array = params.as_ref().filter(|p| p.is_object() || p.is_array());
                if params.is_none() || object_or_array.is_some() {
                    let raw = object_or_array.map(|p| Params::from_json(p.to_string()).expect("params text"));
                    let outgoing = Outgoing::request(id, method, raw.as_ref(), false).expect("encodes");
                    let sent = decode(outgoing.bytes()).expect("an encoded request decodes");
                    assert_eq!(&sent.kind, outgoing.kind());
                    assert_eq!(sent.kind, kind);
                    assert_eq!(sent.message.get("params"), params.as_ref());
                }
            }
        }
        Message::Notification { .. } => {
            let Message::Notification { method } = &kind else { unreachable!() };
            let built = serde_json::to_vec(&notification(method, params.clone())).unwrap();
            let built = decode(&built).expect("a built notification decodes");
            assert_eq!(built.kind, kind);
            assert_eq!(built.message.get("params"), params.as_ref());
        }
        Message::Response { .. } => {
            // The raw result, or the same error as from the parsed message.
            match decode(data).expect("decodes again").into_result() {
                Ok(raw) => assert_eq!(Some(raw.get()), raw_result.as_deref()),
                Err(e) => {
                    assert!(raw_result.is_none());
                    let same = into_result(value.clone()).expect_err("no result, so an error");
                    assert_eq!(format!("{e:?}"), format!("{same:?}"));
                }
            }
            let result = value.get("result").cloned();
            let code = value.get("error").and_then(|e| e.get("code")).and_then(Value::as_i64);
            match into_result(value) {
                Ok(got) => assert_eq!(Some(got), result),
                Err(Error::JsonRpc { code: got, .. }) => {
                    assert!(result.is_none());
                    assert_eq!(Some(got), code);
                }
                Err(Error::Protocol(_)) => assert!(result.is_none() && code.is_none()),
                Err(other) => panic!("into_result gave {other:?}"),
            }
        }
    }
});
