//! JSON-RPC 2.0 messages as the core sends and reads them.
//!
//! Messages stay [`serde_json::Value`]s: the core routes them by `id` and
//! `method` and passes `params` / `result` through untouched.

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// The kinds of JSON-RPC 2.0 message (JSON-RPC 2.0, sections 4 and 5).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Has `method` and `id`: expects a response.
    Request { id: Value, method: String },
    /// Has `method`, no `id`.
    Notification { method: String },
    /// Has `id` and `result` or `error`.
    Response { id: Value },
}

impl Message {
    /// Classifies a decoded message.
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when `jsonrpc` is not `"2.0"` or the shape fits
    /// none of request, notification or response.
    pub fn classify(value: &Value) -> Result<Message> {
        let obj = value
            .as_object()
            .ok_or_else(|| Error::Protocol("JSON-RPC message is not an object".into()))?;
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(Error::Protocol("JSON-RPC message lacks \"jsonrpc\": \"2.0\"".into()));
        }
        match (obj.get("method").and_then(Value::as_str), obj.get("id")) {
            (Some(method), Some(id)) => Ok(Message::Request {
                id: id.clone(),
                method: method.to_owned(),
            }),
            (Some(method), None) => Ok(Message::Notification {
                method: method.to_owned(),
            }),
            (None, Some(id)) if obj.contains_key("result") || obj.contains_key("error") => {
                Ok(Message::Response { id: id.clone() })
            }
            _ => Err(Error::Protocol(
                "JSON-RPC message is neither request, notification nor response".into(),
            )),
        }
    }
}

/// Decodes one JSON-RPC message from the bytes a server sent (an SSE
/// event's data, a stdout line): the message as a [`Value`] and its kind.
///
/// # Errors
///
/// [`Error::Protocol`] when `bytes` are not one JSON value, or the value is
/// not a JSON-RPC 2.0 message (see [`Message::classify`]).
pub fn decode(bytes: &[u8]) -> Result<(Value, Message)> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Error::Protocol(format!("invalid JSON-RPC message: {e}")))?;
    let kind = Message::classify(&value)?;
    Ok((value, kind))
}

/// Builds a request with a numeric id; `params` is omitted when `None`.
pub fn request(id: u64, method: &str, params: Option<Value>) -> Value {
    let mut obj = Map::with_capacity(4);
    obj.insert("jsonrpc".into(), json!("2.0"));
    obj.insert("id".into(), json!(id));
    obj.insert("method".into(), json!(method));
    if let Some(params) = params {
        obj.insert("params".into(), params);
    }
    Value::Object(obj)
}

/// Builds a notification; `params` is omitted when `None`.
pub fn notification(method: &str, params: Option<Value>) -> Value {
    let mut obj = Map::with_capacity(3);
    obj.insert("jsonrpc".into(), json!("2.0"));
    obj.insert("method".into(), json!(method));
    if let Some(params) = params {
        obj.insert("params".into(), params);
    }
    Value::Object(obj)
}

/// Turns a response into its `result`, or its `error` into [`Error::JsonRpc`].
///
/// # Errors
///
/// [`Error::JsonRpc`] for an error response; [`Error::Protocol`] when the
/// error object is malformed or the message is not a response.
pub fn into_result(response: Value) -> Result<Value> {
    let Value::Object(mut obj) = response else {
        return Err(Error::Protocol("JSON-RPC response is not an object".into()));
    };
    if let Some(result) = obj.remove("result") {
        return Ok(result);
    }
    let Some(Value::Object(mut error)) = obj.remove("error") else {
        return Err(Error::Protocol("JSON-RPC response has neither result nor error".into()));
    };
    let code = error
        .get("code")
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::Protocol("JSON-RPC error has no integer code".into()))?;
    let message = match error.remove("message") {
        Some(Value::String(m)) => m,
        _ => String::new(),
    };
    Err(Error::JsonRpc {
        code,
        message,
        data: error.remove("data"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_three_kinds() {
        let req = request(7, "tools/list", None);
        assert_eq!(
            Message::classify(&req).unwrap(),
            Message::Request { id: json!(7), method: "tools/list".into() }
        );
        let note = notification("notifications/initialized", None);
        assert_eq!(
            Message::classify(&note).unwrap(),
            Message::Notification { method: "notifications/initialized".into() }
        );
        let resp = json!({"jsonrpc": "2.0", "id": "x", "result": {}});
        assert_eq!(Message::classify(&resp).unwrap(), Message::Response { id: json!("x") });
    }

    #[test]
    fn rejects_what_is_not_json_rpc_2() {
        for bad in [json!([]), json!({"id": 1, "result": 1}), json!({"jsonrpc": "2.0", "id": 1})] {
            assert!(matches!(Message::classify(&bad), Err(Error::Protocol(_))), "{bad}");
        }
    }

    #[test]
    fn error_response_keeps_code_message_and_data() {
        let resp = json!({"jsonrpc": "2.0", "id": 1,
            "error": {"code": -32602, "message": "bad", "data": {"k": 1}}});
        match into_result(resp) {
            Err(Error::JsonRpc { code, message, data }) => {
                assert_eq!(code, -32602);
                assert_eq!(message, "bad");
                assert_eq!(data, Some(json!({"k": 1})));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn result_response_yields_result() {
        let resp = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": []}});
        assert_eq!(into_result(resp).unwrap(), json!({"tools": []}));
    }

    #[test]
    fn decode_gives_the_message_and_its_kind() {
        let (value, kind) = decode(br#"{"jsonrpc":"2.0","id":3,"result":{"ok":true}}"#).unwrap();
        assert_eq!(value["result"], json!({"ok": true}));
        assert_eq!(kind, Message::Response { id: json!(3) });
        for bad in [&b"{\"jsonrpc\":\"2.0\",\"id\""[..], b"[1]", b"", b"{} {}"] {
            assert!(matches!(decode(bad), Err(Error::Protocol(_))), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// Regression (found by the `jsonrpc` fuzz target): a number was parsed
    /// to a neighbouring f64, so a result reached the caller altered.
    #[test]
    fn decode_reads_numbers_to_the_nearest_f64() {
        let text = format!("-32{}602", "8".repeat(107));
        let raw = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{text}}}"#);
        let (value, _) = decode(raw.as_bytes()).unwrap();
        assert_eq!(value["result"].as_f64(), Some(text.parse::<f64>().unwrap()));
        let again = decode(&serde_json::to_vec(&value).unwrap()).unwrap().0;
        assert_eq!(again, value);
    }

    #[test]
    fn request_omits_absent_params() {
        assert!(request(1, "ping", None).get("params").is_none());
        assert_eq!(request(1, "x", Some(json!({"a": 1})))["params"], json!({"a": 1}));
    }
}
