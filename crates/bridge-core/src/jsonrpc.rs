//! JSON-RPC 2.0 messages as the core sends and reads them.
//!
//! A message is encoded once, into the bytes every attempt sends
//! ([`Outgoing`]); a call's params given as JSON text ([`Params::Raw`]) are
//! spliced into its request unparsed. A message from the server is decoded
//! once ([`decode`]) into an [`Incoming`]: the members the core routes by
//! (`id`, `method`, `params`, `error`) as [`serde_json::Value`]s, and a
//! response's `result` as the server's JSON text ([`RawValue`]), which the
//! core passes through untouched.

use std::borrow::Cow;

use bytes::Bytes;
use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
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
        Self::classify_members(obj, obj.contains_key("result"))
    }

    /// [`Message::classify`] of an object's members; `has_result` when it
    /// has a `result` member (which `obj` may lack, kept apart).
    fn classify_members(obj: &Map<String, Value>, has_result: bool) -> Result<Message> {
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
            (None, Some(id)) if has_result || obj.contains_key("error") => {
                Ok(Message::Response { id: id.clone() })
            }
            _ => Err(Error::Protocol(
                "JSON-RPC message is neither request, notification nor response".into(),
            )),
        }
    }
}

/// One message a server sent, decoded by [`decode`].
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The message, every member parsed, except a response's `result`,
    /// which is in [`Incoming::result`] instead.
    pub message: Value,
    /// What kind of message it is.
    pub kind: Message,
    /// A response's `result`: the server's JSON text, unchanged (surrounding
    /// whitespace aside), checked as JSON syntax only: it may hold numbers
    /// out of the range of an f64, which a [`Value`] cannot (and JavaScript's
    /// `JSON.parse` reads as infinities). `None` for an error response and
    /// for requests and notifications.
    pub result: Option<Box<RawValue>>,
}

impl Incoming {
    /// A response's outcome: its `result` text, or its `error` as
    /// [`Error::JsonRpc`].
    ///
    /// # Errors
    ///
    /// [`Error::JsonRpc`] for an error response; [`Error::Protocol`] when the
    /// error object is malformed or the message is not a response.
    pub fn into_result(self) -> Result<Box<RawValue>> {
        if !matches!(self.kind, Message::Response { .. }) {
            return Err(Error::Protocol("JSON-RPC message is not a response".into()));
        }
        match self.result {
            Some(result) => Ok(result),
            // A response's `result` is never in `message`: this is an error.
            None => match into_result(self.message) {
                Err(e) => Err(e),
                Ok(_) => Err(Error::Protocol("JSON-RPC response has neither result nor error".into())),
            },
        }
    }

    /// The whole message as one [`Value`] (a response's `result` parsed).
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when the `result` holds a number out of the range
    /// of an f64.
    pub fn into_value(self) -> Result<Value> {
        let mut message = self.message;
        if let (Some(result), Value::Object(obj)) = (self.result, &mut message) {
            let value = serde_json::from_str(result.get())
                .map_err(|e| Error::Protocol(format!("JSON-RPC result: {e}")))?;
            obj.insert("result".into(), value);
        }
        Ok(message)
    }
}

/// Decodes one JSON-RPC message from the bytes a server sent (an SSE
/// event's data, a stdout line, a JSON response body), in one pass: a
/// response's `result` is kept as text ([`Incoming::result`]), checked as
/// JSON but not parsed, every other member parsed into
/// [`Incoming::message`].
///
/// # Errors
///
/// [`Error::Protocol`] when `bytes` are not one JSON value, or the value is
/// not a JSON-RPC 2.0 message (see [`Message::classify`]).
pub fn decode(bytes: &[u8]) -> Result<Incoming> {
    /// An object's members, `result` apart.
    struct Members;

    impl<'de> Visitor<'de> for Members {
        type Value = (Map<String, Value>, Option<Box<RawValue>>, bool);

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON-RPC message (an object)")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
            let mut members = Map::new();
            let mut result = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == "result" {
                    // A later duplicate wins, as it does in a Value.
                    result = Some(map.next_value::<Box<RawValue>>()?);
                } else {
                    let value = map.next_value::<Value>()?;
                    members.insert(key, value);
                }
            }
            let has_result = result.is_some();
            Ok((members, result, has_result))
        }
    }

    let invalid = |e: serde_json::Error| Error::Protocol(format!("invalid JSON-RPC message: {e}"));
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let (members, mut result, has_result) = match de.deserialize_map(Members) {
        Ok(decoded) => decoded,
        // Valid JSON that is not an object: say so, as `classify` does.
        Err(e) if e.is_data() => {
            serde_json::from_slice::<Value>(bytes).map_err(invalid)?;
            return Err(Error::Protocol("JSON-RPC message is not an object".into()));
        }
        Err(e) => return Err(invalid(e)),
    };
    de.end().map_err(invalid)?;
    let kind = Message::classify_members(&members, has_result)?;
    let mut message = Value::Object(members);
    if !matches!(kind, Message::Response { .. }) {
        // Only a response's result is kept apart; a stray `result` member of
        // a request or notification stays in the message.
        if let (Some(raw), Value::Object(obj)) = (result.take(), &mut message) {
            obj.insert("result".into(), serde_json::from_str(raw.get()).map_err(invalid)?);
        }
    }
    Ok(Incoming { message, kind, result })
}

/// A call's params.
#[derive(Debug, Clone)]
pub enum Params {
    /// Parsed params: an object or an array.
    Value(Value),
    /// JSON text of an object or an array (see [`Params::from_json`]),
    /// spliced into the request as it is.
    Raw(Box<RawValue>),
}

impl Params {
    /// Params from JSON text, checked without building a tree: one JSON
    /// object or array, surrounding whitespace allowed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `text` is not JSON, or is JSON of
    /// another type.
    pub fn from_json(text: String) -> Result<Params> {
        let raw = RawValue::from_string(text).map_err(|e| Error::InvalidArgument(format!("params: {e}")))?;
        if !matches!(raw.get().as_bytes().first(), Some(b'{' | b'[')) {
            return Err(Error::InvalidArgument("params must be a JSON object or array".into()));
        }
        Ok(Params::Raw(raw))
    }
}

/// One JSON-RPC message encoded for sending: the bytes a transport sends on
/// every attempt (cheap to clone), and the message's kind, which transports
/// need (a request's id, to wait for its response; the method).
#[derive(Debug, Clone)]
pub struct Outgoing {
    bytes: Bytes,
    kind: Message,
}

impl Outgoing {
    /// Encodes any JSON-RPC message.
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when `message` is not a JSON-RPC 2.0 message
    /// (see [`Message::classify`]).
    pub fn encode(message: &Value) -> Result<Outgoing> {
        let kind = Message::classify(message)?;
        let bytes = serde_json::to_vec(message).expect("a Value encodes");
        Ok(Outgoing { bytes: bytes.into(), kind })
    }

    /// Encodes a request with a numeric id; `params` is omitted when `None`.
    ///
    /// With `progress_token`, the request asks for progress (MCP 2025-06-18,
    /// Basic / Utilities / Progress): `params._meta.progressToken` is set to
    /// `id`, keeping the other members of `_meta`, with params `{}` when
    /// there are none. Array params, or a `_meta` that is not an object, are
    /// sent without a token. [`Params::Raw`] is spliced in unparsed, unless
    /// it already has a `_meta` member.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when raw params with a `_meta` member cannot
    /// be parsed (nested deeper than serde_json's recursion limit).
    pub fn request(id: u64, method: &str, params: Option<&Params>, progress_token: bool) -> Result<Outgoing> {
        use std::io::Write as _;

        let params_len = match params {
            Some(Params::Raw(raw)) => raw.get().len(),
            _ => 64,
        };
        let mut out = Vec::with_capacity(params_len + method.len() + 80);
        write!(out, r#"{{"jsonrpc":"2.0","id":{id},"method":"#).expect("writes to a Vec");
        serde_json::to_writer(&mut out, method).expect("a str encodes");
        let token = format!(r#"{{"progressToken":{id}}}"#);
        match params {
            None if progress_token => write!(out, r#","params":{{"_meta":{token}}}"#).expect("writes to a Vec"),
            None => {}
            Some(Params::Value(value)) => {
                out.extend_from_slice(br#","params":"#);
                if progress_token && value.is_object() {
                    let mut value = value.clone();
                    set_progress_token(&mut value, id);
                    serde_json::to_writer(&mut out, &value).expect("a Value encodes");
                } else {
                    serde_json::to_writer(&mut out, value).expect("a Value encodes");
                }
            }
            Some(Params::Raw(raw)) => {
                out.extend_from_slice(br#","params":"#);
                let text = raw.get();
                if !progress_token || !text.starts_with('{') {
                    out.extend_from_slice(text.as_bytes());
                } else if has_member(text, "_meta") {
                    let mut value: Value = serde_json::from_str(text)
                        .map_err(|e| Error::InvalidArgument(format!("params: {e}")))?;
                    set_progress_token(&mut value, id);
                    serde_json::to_writer(&mut out, &value).expect("a Value encodes");
                } else {
                    // `{` + `"_meta":{...}` + the rest of the object.
                    let rest = text[1..].trim_start();
                    write!(out, r#"{{"_meta":{token}"#).expect("writes to a Vec");
                    if !rest.starts_with('}') {
                        out.push(b',');
                    }
                    out.extend_from_slice(rest.as_bytes());
                }
            }
        }
        out.push(b'}');
        Ok(Outgoing {
            bytes: out.into(),
            kind: Message::Request {
                id: Value::from(id),
                method: method.to_owned(),
            },
        })
    }

    /// Encodes a notification; `params` is omitted when `None`.
    pub fn notification(method: &str, params: Option<Value>) -> Outgoing {
        let message = notification(method, params);
        let bytes = serde_json::to_vec(&message).expect("a Value encodes");
        Outgoing {
            bytes: bytes.into(),
            kind: Message::Notification { method: method.to_owned() },
        }
    }

    /// The encoded message (JSON text, no trailing newline).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Its size, in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it is empty (never, for a message built here).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// What kind of message it is.
    pub fn kind(&self) -> &Message {
        &self.kind
    }
}

/// Sets `params._meta.progressToken` of params `params` (an object) to `id`.
fn set_progress_token(params: &mut Value, id: u64) {
    if let Some(params) = params.as_object_mut() {
        let meta = params.entry("_meta").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("progressToken".into(), json!(id));
        }
    }
}

/// Whether JSON object text `object` has a member named `name` (keys
/// unescaped; values skipped, not built).
fn has_member(object: &str, name: &str) -> bool {
    use serde::de::IgnoredAny;

    struct Find<'a>(&'a str);

    impl<'de> Visitor<'de> for Find<'_> {
        type Value = bool;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<bool, A::Error> {
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == self.0 {
                    return Ok(true);
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(false)
        }
    }

    // Stops at the member found; the rest was checked when the params were.
    let mut de = serde_json::Deserializer::from_str(object);
    de.deserialize_map(Find(name)).unwrap_or(true)
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
        let incoming = decode(br#"{"jsonrpc":"2.0","id":3,"result":{"ok":true}}"#).unwrap();
        assert_eq!(incoming.kind, Message::Response { id: json!(3) });
        assert_eq!(incoming.message, json!({"jsonrpc": "2.0", "id": 3}), "the result is kept apart");
        assert_eq!(incoming.result.as_ref().map(|r| r.get()), Some(r#"{"ok":true}"#));
        assert_eq!(incoming.into_value().unwrap()["result"], json!({"ok": true}));
        for bad in [&b"{\"jsonrpc\":\"2.0\",\"id\""[..], b"[1]", b"", b"{} {}", b"\"x\"", b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":}"] {
            assert!(matches!(decode(bad), Err(Error::Protocol(_))), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn decode_keeps_a_result_as_the_server_wrote_it() {
        let result = r#"{ "text" : "caf\u00e9 \"x\"", "n": [1.50, 1e3, -0, 123456789012345678901234567890],
            "nested": {"result": null} }"#;
        let body = format!(r#"{{"result": {result} , "id": 7, "jsonrpc": "2.0"}}"#);
        let incoming = decode(body.as_bytes()).unwrap();
        assert_eq!(incoming.kind, Message::Response { id: json!(7) });
        assert_eq!(incoming.clone().into_result().unwrap().get(), result);
        assert_eq!(incoming.into_value().unwrap(), serde_json::from_str::<Value>(&body).unwrap());
        // A null result is a result.
        let null = decode(br#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap();
        assert_eq!(null.into_result().unwrap().get(), "null");
    }

    /// Whatever `decode` accepts, it reads as serde_json reads the whole
    /// message, and classifies as `Message::classify` does.
    #[test]
    fn decode_agrees_with_a_full_parse() {
        let messages = [
            r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#,
            r#"{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"no","data":{"k":[1,2]}}}"#,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":4,"progress":1}}"#,
            r#"{"jsonrpc":"2.0","id":9,"method":"sampling/createMessage","params":{"messages":[]}}"#,
            // A stray result of a notification stays in the message.
            r#"{"jsonrpc":"2.0","method":"x","result":[1]}"#,
            // Duplicates: the last wins, as in a Value.
            r#"{"jsonrpc":"2.0","id":2,"result":1,"result":{"b":2}}"#,
        ];
        for text in messages {
            let incoming = decode(text.as_bytes()).unwrap();
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Message::classify(&value).unwrap(), incoming.kind, "{text}");
            if !matches!(incoming.kind, Message::Response { .. }) {
                assert_eq!(incoming.message, value, "{text}");
                assert!(incoming.result.is_none());
            }
            assert_eq!(incoming.into_value().unwrap(), value, "{text}");
        }
        for text in [r#"{"id":1,"result":1}"#, r#"{"jsonrpc":"2.0","id":1}"#, r#"{"jsonrpc":"1.0","method":"x"}"#] {
            assert!(matches!(decode(text.as_bytes()), Err(Error::Protocol(_))), "{text}");
        }
    }

    #[test]
    fn an_incoming_error_response_is_the_servers_error() {
        let incoming = decode(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"boom"}}"#).unwrap();
        assert!(incoming.result.is_none());
        assert!(matches!(incoming.into_result(), Err(Error::JsonRpc { code: -32000, .. })));
        let request = decode(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
        assert!(matches!(request.into_result(), Err(Error::Protocol(_))));
    }

    /// Regression (found by the `jsonrpc` fuzz target): a number was parsed
    /// to a neighbouring f64, so a result reached the caller altered.
    #[test]
    fn decode_reads_numbers_to_the_nearest_f64() {
        let text = format!("-32{}602", "8".repeat(107));
        let raw = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{text}}}"#);
        let incoming = decode(raw.as_bytes()).unwrap();
        assert_eq!(incoming.result.as_ref().unwrap().get(), text, "the result's text is kept");
        let value = incoming.into_value().unwrap();
        assert_eq!(value["result"].as_f64(), Some(text.parse::<f64>().unwrap()));
        let again = decode(&serde_json::to_vec(&value).unwrap()).unwrap().into_value().unwrap();
        assert_eq!(again, value);
    }

    /// Found by the `jsonrpc` fuzz target: a result's number out of the
    /// range of an f64 is JSON a Value cannot hold. The result's text is
    /// passed on as it is (JavaScript reads such a number as an infinity);
    /// only parsing it fails.
    #[test]
    fn a_result_number_out_of_f64_range_is_kept_as_text() {
        let raw = br#"{"jsonrpc":"2.0","id":1,"result":{"big":1e400}}"#;
        assert!(serde_json::from_slice::<Value>(raw).is_err());
        let incoming = decode(raw).unwrap();
        assert_eq!(incoming.result.as_ref().unwrap().get(), r#"{"big":1e400}"#);
        assert!(matches!(incoming.into_value(), Err(Error::Protocol(_))));
        // Elsewhere in a message it fails the decoding, as before.
        let params = br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1e400}}"#;
        assert!(matches!(decode(params), Err(Error::Protocol(_))));
    }

    fn raw(text: &str) -> Params {
        Params::from_json(text.to_owned()).unwrap()
    }

    /// The request as the core built it before requests were encoded once:
    /// a Value, with the progress token set in it.
    fn built(id: u64, method: &str, params: Option<Value>, progress: bool) -> Value {
        let mut request = request(id, method, params);
        if progress {
            let params = request.as_object_mut().unwrap().entry("params").or_insert_with(|| json!({}));
            if let Some(params) = params.as_object_mut() {
                let meta = params.entry("_meta").or_insert_with(|| json!({}));
                if let Some(meta) = meta.as_object_mut() {
                    meta.insert("progressToken".into(), json!(id));
                }
            }
        }
        request
    }

    fn sent(outgoing: &Outgoing) -> Value {
        serde_json::from_slice(outgoing.bytes()).expect("the request is JSON")
    }

    #[test]
    fn params_from_json_must_be_an_object_or_an_array() {
        assert!(matches!(raw(" {\"a\": 1} "), Params::Raw(r) if r.get() == "{\"a\": 1}"));
        assert!(matches!(raw("[1, 2]"), Params::Raw(_)));
        for bad in ["5", "\"text\"", "null", "true", "", "{", "{} {}", "{\"a\":}", "[1,]"] {
            match Params::from_json(bad.to_owned()) {
                Err(Error::InvalidArgument(_)) => {}
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn raw_params_are_spliced_into_the_request_unchanged() {
        let text = r#"{"name":"echo","arguments":{"text":"h\u00e9llo","n":1.50}}"#;
        let outgoing = Outgoing::request(12, "tools/call", Some(&raw(text)), false).unwrap();
        assert_eq!(
            std::str::from_utf8(outgoing.bytes()).unwrap(),
            format!(r#"{{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{text}}}"#)
        );
        assert_eq!(outgoing.kind(), &Message::Request { id: json!(12), method: "tools/call".into() });
        assert_eq!(outgoing.len(), outgoing.bytes().len());
        // A method that needs escaping, and no params.
        let odd = Outgoing::request(1, "a\"b\\c", None, false).unwrap();
        assert_eq!(sent(&odd), request(1, "a\"b\\c", None));
    }

    #[test]
    fn the_progress_token_goes_into_params_meta_keeping_what_is_there() {
        let cases: &[Option<&str>] = &[
            None,
            Some("{}"),
            Some("{ \n }"),
            Some(r#"{"name":"slow","arguments":{"_meta":"not the params' own"}}"#),
            Some(r#"{"_meta":{"traceparent":"00-1","progressToken":"theirs"},"name":"x"}"#),
            Some(r#"{"name":"x","_meta":{}}"#),
            Some(r#"{"name":"x","\u005fmeta":{"k":1}}"#),
            // Left as they were: a `_meta` that is not an object, array params.
            Some(r#"{"_meta":7}"#),
            Some("[1, {\"_meta\": {}}]"),
        ];
        for &params in cases {
            let value = params.map(|p| serde_json::from_str::<Value>(p).unwrap());
            let expected = built(5, "tools/call", value.clone(), true);
            let from_raw = Outgoing::request(5, "tools/call", params.map(raw).as_ref(), true).unwrap();
            assert_eq!(sent(&from_raw), expected, "raw {params:?}");
            let from_value = Outgoing::request(5, "tools/call", value.map(Params::Value).as_ref(), true).unwrap();
            assert_eq!(sent(&from_value), expected, "value {params:?}");
        }
        // Without progress, nothing is added.
        let plain = Outgoing::request(5, "tools/call", Some(&raw(r#"{"_meta":{"k":1}}"#)), false).unwrap();
        assert_eq!(sent(&plain), built(5, "tools/call", Some(json!({"_meta": {"k": 1}})), false));
    }

    #[test]
    fn has_member_looks_at_the_top_level_only() {
        assert!(has_member(r#"{"a":1,"_meta":{}}"#, "_meta"));
        assert!(has_member(r#"{"_m\u0065ta":null}"#, "_meta"));
        assert!(!has_member(r#"{"a":{"_meta":{}},"b":["_meta"]}"#, "_meta"));
        assert!(!has_member("{}", "_meta"));
    }

    #[test]
    fn outgoing_messages_know_their_kind() {
        let note = Outgoing::notification("notifications/cancelled", Some(json!({"requestId": 3})));
        assert_eq!(note.kind(), &Message::Notification { method: "notifications/cancelled".into() });
        assert_eq!(sent(&note), notification("notifications/cancelled", Some(json!({"requestId": 3}))));
        let response = json!({"jsonrpc": "2.0", "id": "s-1", "result": {}});
        let encoded = Outgoing::encode(&response).unwrap();
        assert_eq!(encoded.kind(), &Message::Response { id: json!("s-1") });
        assert_eq!(sent(&encoded), response);
        assert!(matches!(Outgoing::encode(&json!({"id": 1})), Err(Error::Protocol(_))));
    }

    #[test]
    fn request_omits_absent_params() {
        assert!(request(1, "ping", None).get("params").is_none());
        assert_eq!(request(1, "x", Some(json!({"a": 1})))["params"], json!({"a": 1}));
    }
}

/// The members of a JSON-RPC message that decide whether it is relayed as
/// it came; the others are ignored, as the JS endpoint ignores them.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

/// A request's params, read only for a progress token.
#[derive(Deserialize)]
struct ParamsMeta {
    #[serde(rename = "_meta")]
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "progressToken", default)]
    progress_token: Present,
}

/// Whether a member is there, whatever its value (`null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Present(true))
    }
}

/// A JSON-RPC request a proxy may relay as it came (see [`relayable`]),
/// borrowed from the message's bytes.
#[derive(Debug)]
pub struct Relayable<'a> {
    /// The id's JSON text, as [`relayable`] checked it.
    pub id: &'a RawValue,
    /// The method.
    pub method: Cow<'a, str>,
    /// The params' JSON text (an object or array), when there are any.
    pub params: Option<&'a RawValue>,
}

/// Methods an MCP endpoint answers itself (MCP 2025-06-18, Basic /
/// Lifecycle and Utilities / Ping; `server/discover` of the sessionless
/// revision).
const ANSWERED_LOCALLY: [&str; 3] = ["initialize", "ping", "server/discover"];

/// The largest integer JS's numbers hold exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Whether an id's JSON text is the one `JSON.stringify` writes for it: a
/// string without escapes, or a safe integer without sign, exponent or
/// leading zero but for `-`.
fn canonical_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    if let Some(inner) = id.strip_prefix('"') {
        return !inner.contains('\\');
    }
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits[0] != b'0')
        && digits.len() <= 16
        && std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
            .is_some_and(|n| n <= MAX_SAFE_INTEGER)
        && id != "-0"
}

/// The request in `message` (JSON bytes, as an MCP client sent them) when a
/// proxy may relay it as it came, params untouched, and answer it with the
/// upstream result under the same id: a JSON-RPC 2.0 request (MCP
/// 2025-06-18, Basic, "Requests") whose id is a string without escapes or
/// a safe integer written plainly (the text `JSON.stringify` writes for
/// it, so the caller may key it), whose params, if any, are an object or
/// an array without a progress token (`_meta.progressToken`, which the
/// proxy must replace with its own), and whose method the proxy does not
/// answer itself (`initialize`, `ping`, `server/discover`).
///
/// `None` for everything else: not JSON (or not UTF-8), not one object (a batch), a
/// notification or response, duplicate members, any other id or params.
/// The caller then reads the message itself; `None` never means the
/// message is wrong.
pub fn relayable(message: &[u8]) -> Option<Relayable<'_>> {
    // UTF-8 checked as a whole: serde_json skips the members it does not
    // read without checking their text, and a message is JSON only in
    // UTF-8 (RFC 8259, section 8.1).
    let text = std::str::from_utf8(message).ok()?;
    let envelope: Envelope<'_> = serde_json::from_str(text).ok()?;
    let (Some(id), Some(method)) = (envelope.id, envelope.method) else {
        return None;
    };
    if envelope.jsonrpc.as_deref() != Some("2.0")
        || !canonical_id(id.get())
        || ANSWERED_LOCALLY.contains(&method.as_ref())
    {
        return None;
    }
    if let Some(params) = envelope.params {
        match params.get().as_bytes().first() {
            Some(b'[') => {}
            Some(b'{') => {
                let read: ParamsMeta = serde_json::from_str(params.get()).ok()?;
                if read.meta.is_some_and(|meta| meta.progress_token.0) {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(Relayable {
        id,
        method,
        params: envelope.params,
    })
}

#[cfg(test)]
mod relayable_tests {
    use super::*;

    fn relays(message: &str) -> Option<(String, String, Option<String>)> {
        relayable(message.as_bytes()).map(|r| {
            (
                r.id.get().to_owned(),
                r.method.into_owned(),
                r.params.map(|p| p.get().to_owned()),
            )
        })
    }

    #[test]
    fn relays_requests_as_they_came() {
        assert_eq!(
            relays(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a"}}}"#),
            Some(("7".into(), "tools/call".into(), Some(r#"{"name":"echo","arguments":{"text":"a"}}"#.into())))
        );
        assert_eq!(
            relays(r#" {"method":"tools/list","id":"a-1","jsonrpc":"2.0"} "#),
            Some((r#""a-1""#.into(), "tools/list".into(), None))
        );
        // Other _meta members go upstream as they are.
        assert!(relays(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"traceparent":"00-1"}}}"#).is_some());
        assert!(relays(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1,2]}"#).is_some());
        assert!(relays(r#"{"jsonrpc":"2.0","id":-12,"method":"x","params":null}"#).is_some());
        assert!(relays(r#"{"jsonrpc":"2.0","id":9007199254740991,"method":"x"}"#).is_some());
    }

    #[test]
    fn leaves_the_rest_to_the_caller() {
        for message in [
            "",
            "not json",
            "[]",
            r#"[{"jsonrpc":"2.0","id":1,"method":"x"}]"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
            r#"{"id":1,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1.0,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1e3,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":01,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":-0,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":9007199254740992,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":"a\"b","method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":"text"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":"p"}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":null}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":"odd"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x"} trailing"#,
        ] {
            assert!(relays(message).is_none(), "{message}");
        }
        // Text that is not UTF-8 in a member the check does not read.
        assert!(relayable(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"other\":\"\x9d\"}").is_none());
    }
}
