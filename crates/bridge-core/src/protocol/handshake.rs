//! The MCP handshake, written once: `initialize` with the revisions of the
//! session era (MCP 2025-06-18, Basic / Lifecycle), `server/discover` with
//! the sessionless revision (MCP 2026-07-28, Basic / Lifecycle), the
//! request envelope that revision puts in every request's `_meta`, and the
//! [`Renewal`] that lets streamable HTTP start a new MCP session the same
//! way when the server ends one.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::replay::SessionState;
use super::version::{MetaKey, Revision};
use crate::error::{Error, Result};
use crate::transport::Renewal;

/// The method of the sessionless revision's handshake.
pub(crate) const DISCOVER: &str = "server/discover";

/// What a session declares in `initialize`.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// `clientInfo`: `{ name, version, ... }`.
    pub client_info: Value,
    /// Client capabilities (`sampling`, `elicitation`, `roots`, ...).
    pub capabilities: Value,
}

impl Default for ClientIdentity {
    fn default() -> Self {
        ClientIdentity {
            client_info: json!({ "name": "fastmcp-bridge", "version": env!("CARGO_PKG_VERSION") }),
            capabilities: json!({}),
        }
    }
}


/// The params of an `initialize` request declaring `identity`.
pub(crate) fn initialize_params(identity: &ClientIdentity) -> Value {
    json!({
        "protocolVersion": Revision::LATEST_HANDSHAKE.as_str(),
        "capabilities": identity.capabilities,
        "clientInfo": identity.client_info,
    })
}

/// The revision an `InitializeResult` settles on.
///
/// # Errors
///
/// [`Error::Protocol`] when it names none, or one the core does not speak
/// in a handshake.
pub(crate) fn negotiated(init: &Value) -> Result<Revision> {
    let version = init
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Protocol("InitializeResult has no protocolVersion".into()))?;
    Revision::parse(version)
        .filter(|revision| !revision.is_sessionless())
        .ok_or_else(|| Error::Protocol(format!("unsupported MCP protocol version {version:?}")))
}

/// The `_meta` keys every request of a sessionless session carries: the
/// revision, the client's `clientInfo` and capabilities (MCP 2026-07-28,
/// Basic).
pub(crate) fn envelope(identity: &ClientIdentity) -> Map<String, Value> {
    let mut envelope = Map::with_capacity(3);
    envelope.insert(MetaKey::ProtocolVersion.as_str().into(), json!(Revision::SESSIONLESS.as_str()));
    envelope.insert(MetaKey::ClientInfo.as_str().into(), identity.client_info.clone());
    envelope.insert(MetaKey::ClientCapabilities.as_str().into(), identity.capabilities.clone());
    envelope
}

/// `envelope` with another client's identity.
pub(crate) fn with_identity(mut envelope: Map<String, Value>, identity: &ClientIdentity) -> Map<String, Value> {
    envelope.insert(MetaKey::ClientInfo.as_str().into(), identity.client_info.clone());
    envelope.insert(MetaKey::ClientCapabilities.as_str().into(), identity.capabilities.clone());
    envelope
}

/// Puts `envelope`'s keys into `params._meta` (creating it when absent;
/// params that are not an object are left as they are).
pub(crate) fn stamp(envelope: &Map<String, Value>, params: &mut Value) {
    let Some(params) = params.as_object_mut() else {
        return;
    };
    if let Some(meta) = params.entry("_meta").or_insert_with(|| json!({})).as_object_mut() {
        for (key, value) in envelope {
            meta.insert(key.clone(), value.clone());
        }
    }
}

/// A `DiscoverResult` as the session keeps it: `None` when the server does
/// not offer the sessionless revision; else the result with
/// `protocolVersion` and `serverInfo` added where absent, so that it reads
/// like an `InitializeResult`.
///
/// # Errors
///
/// [`Error::Protocol`] when the result is not an object.
pub(crate) fn discovered(result: Value) -> Result<Option<Value>> {
    let Value::Object(mut result) = result else {
        return Err(Error::Protocol("DiscoverResult is not an object".into()));
    };
    let offered = result
        .get("supportedVersions")
        .and_then(Value::as_array)
        .is_some_and(|versions| versions.iter().any(|v| v == Revision::SESSIONLESS.as_str()));
    if !offered {
        return Ok(None);
    }
    result.insert("protocolVersion".into(), json!(Revision::SESSIONLESS.as_str()));
    if !result.contains_key("serverInfo") {
        let info = result.get("_meta").and_then(|m| m.get(MetaKey::ServerInfo.as_str())).cloned();
        result.insert("serverInfo".into(), info.unwrap_or_else(|| json!({})));
    }
    Ok(Some(Value::Object(result)))
}

/// How a streamable HTTP transport sets up the MCP session that replaces
/// one the server ended: the same checks of the `InitializeResult` as the
/// first handshake, then the state the client had set ([`SessionState`]).
pub(crate) struct Renewer {
    pub state: Arc<SessionState>,
}

impl Renewal for Renewer {
    fn accept(&self, init: &Value) -> Result<&'static str> {
        negotiated(init).map(Revision::as_str)
    }

    fn replay(&self) -> Vec<(&'static str, Value)> {
        self.state.requests()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::{Outgoing, Params};

    fn identity() -> ClientIdentity {
        ClientIdentity {
            client_info: json!({ "name": "c", "version": "1" }),
            capabilities: json!({}),
        }
    }

    #[test]
    fn stamp_adds_the_envelope_to_params_meta_and_keeps_what_is_there() {
        let envelope = envelope(&identity());
        let protocol = MetaKey::ProtocolVersion.as_str();
        let client = MetaKey::ClientInfo.as_str();
        let mut bare = json!({});
        stamp(&envelope, &mut bare);
        assert_eq!(bare["_meta"][protocol], Revision::SESSIONLESS.as_str());
        assert_eq!(bare["_meta"][client]["name"], "c");

        let mut call = json!({ "name": "t", "_meta": { "traceparent": "00-1-2-01" } });
        stamp(&envelope, &mut call);
        assert_eq!(call["name"], "t");
        assert_eq!(call["_meta"]["traceparent"], "00-1-2-01");
        assert_eq!(call["_meta"][protocol], Revision::SESSIONLESS.as_str());
        // A call that asks for progress carries both.
        let request = Outgoing::request(5, "tools/call", Some(&Params::Value(call)), true).unwrap();
        let sent: Value = serde_json::from_slice(request.bytes()).unwrap();
        assert_eq!(sent["params"]["_meta"]["progressToken"], 5);
        assert_eq!(sent["params"]["_meta"][client]["name"], "c");

        // Array params cannot carry `_meta`: left as they are.
        let mut positional = json!([1, 2]);
        stamp(&envelope, &mut positional);
        assert_eq!(positional, json!([1, 2]));
    }

    #[test]
    fn an_initialize_result_settles_on_a_handshake_revision_only() {
        assert_eq!(negotiated(&json!({ "protocolVersion": "2025-06-18" })).unwrap(), Revision::V2025_06_18);
        for bad in [json!({}), json!({ "protocolVersion": "2024-11-05" }), json!({ "protocolVersion": "2026-07-28" })] {
            assert!(matches!(negotiated(&bad), Err(Error::Protocol(_))), "{bad}");
        }
    }

    #[test]
    fn a_discover_result_without_the_sessionless_revision_is_none() {
        assert_eq!(discovered(json!({ "supportedVersions": ["2025-11-25"] })).unwrap(), None);
        let info = json!({ "name": "s" });
        let result = discovered(json!({ "supportedVersions": ["2026-07-28"], "_meta": { (MetaKey::ServerInfo.as_str()): info } }))
            .unwrap()
            .unwrap();
        assert_eq!(result["protocolVersion"], "2026-07-28");
        assert_eq!(result["serverInfo"]["name"], "s");
        assert!(discovered(json!([])).is_err());
    }
}
