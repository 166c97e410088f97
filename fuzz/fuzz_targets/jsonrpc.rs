//! JSON-RPC decoding (`bridge_core::jsonrpc::decode`, which the SSE and
//! stdio transports run on every message a server sends): arbitrary bytes
//! never panic; a message that decodes round-trips through encoding and
//! through the core's constructors; a response's `into_result` agrees with
//! its `result` / `error`.
#![no_main]

use bridge_core::jsonrpc::{decode, into_result, notification, request, Message};
use bridge_core::Error;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok((value, kind)) = decode(data) else {
        return;
    };
    assert_eq!(Message::classify(&value).ok().as_ref(), Some(&kind));

    // What the core decoded, encoded again, decodes to the same message.
    let encoded = serde_json::to_vec(&value).expect("a decoded message encodes");
    let (again, again_kind) = decode(&encoded).expect("an encoded message decodes");
    assert_eq!(again, value, "round trip of {}", String::from_utf8_lossy(data));
    assert_eq!(again_kind, kind);

    let params = value.get("params").cloned();
    match &kind {
        Message::Request { id, method } => {
            if let Some(id) = id.as_u64() {
                let built = serde_json::to_vec(&request(id, method, params.clone())).unwrap();
                let (built, built_kind) = decode(&built).expect("a built request decodes");
                assert_eq!(built_kind, kind);
                assert_eq!(built.get("params"), params.as_ref());
            }
        }
        Message::Notification { .. } => {
            let Message::Notification { method } = &kind else { unreachable!() };
            let built = serde_json::to_vec(&notification(method, params.clone())).unwrap();
            let (built, built_kind) = decode(&built).expect("a built notification decodes");
            assert_eq!(built_kind, kind);
            assert_eq!(built.get("params"), params.as_ref());
        }
        Message::Response { .. } => {
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
