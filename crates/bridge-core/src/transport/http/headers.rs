//! Request headers: the session headers of every request and the
//! sessionless revision's routing headers.

use super::params::ParamHeaders;
use super::*;

impl Inner {
    /// A request to the endpoint with the session headers (the session id
    /// only when `with_session`); returns the session id it carries.
    pub(super) fn build(
        &self,
        method: Method,
        body: Bytes,
        with_session: bool,
        routing: &[(HeaderName, HeaderValue)],
    ) -> Result<(Request<Full<Bytes>>, Option<HeaderValue>)> {
        let mut builder = Request::builder()
            .method(method)
            .uri(self.url.clone())
            .header(ACCEPT, ACCEPT_BOTH)
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in &self.headers {
            builder = builder.header(name, value.clone());
        }
        for (name, value) in routing {
            builder = builder.header(name, value.clone());
        }
        let session = if with_session { self.session_id.read().clone() } else { None };
        if let Some(id) = &session {
            builder = builder.header(SESSION_HEADER, id.clone());
        }
        if with_session {
            if let Some(version) = self.protocol_version.read().as_ref() {
                builder = builder.header(PROTOCOL_VERSION_HEADER, version.clone());
            }
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| Error::InvalidArgument(format!("request: {e}")))?;
        Ok((request, session))
    }
}

/// The sessionless revision's routing headers of a request: `Mcp-Method`,
/// and `Mcp-Name` with the tool or prompt name (`tools/call`,
/// `prompts/get`) or resource URI (`resources/read`) (MCP 2026-07-28, Basic
/// / Transports, Streamable HTTP); for a `tools/call` of a tool with marked
/// arguments, their `Mcp-Param-*` headers ([`ParamHeaders`]). Empty for
/// other messages.
pub(super) fn routing_headers(message: &Outgoing, params: &ParamHeaders) -> Vec<(HeaderName, HeaderValue)> {
    let Message::Request { method, .. } = message.kind() else {
        return Vec::new();
    };
    let mut headers = Vec::with_capacity(2);
    headers.push((HeaderName::from_static(METHOD_HEADER), header_value(method)));
    // Only these requests are read again, for their params' name or uri
    // (the other members are skipped, not built).
    #[derive(serde::Deserialize)]
    struct Named {
        params: Option<NamedParams>,
    }
    #[derive(serde::Deserialize)]
    struct NamedParams {
        name: Option<String>,
        uri: Option<String>,
    }
    let named = || serde_json::from_slice::<Named>(message.bytes()).ok()?.params;
    let name = match method.as_str() {
        "tools/call" | "prompts/get" => named().and_then(|p| p.name),
        "resources/read" => named().and_then(|p| p.uri),
        _ => None,
    };
    if let Some(name) = name {
        if method == "tools/call" && params.marks(&name) {
            // Read a third time, for the arguments, only for such a tool.
            #[derive(serde::Deserialize)]
            struct Call {
                params: CallParams,
            }
            #[derive(serde::Deserialize)]
            struct CallParams {
                #[serde(default)]
                arguments: Value,
            }
            if let Ok(call) = serde_json::from_slice::<Call>(message.bytes()) {
                headers.extend(params.headers(&name, &call.params.arguments));
            }
        }
        headers.push((HeaderName::from_static(NAME_HEADER), header_value(&name)));
    }
    headers
}

/// A header value that carries `text` exactly: as it is when it is
/// printable ASCII without leading or trailing spaces, else as
/// `=?base64?<UTF-8 in base64>?=` (MCP 2026-07-28, Basic / Transports,
/// Streamable HTTP; as the MCP Python SDK's `encode_header_value`).
pub(super) fn header_value(text: &str) -> HeaderValue {
    use base64::Engine as _;
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b))
        && text.trim() == text
        && !(text.starts_with("=?base64?") && text.ends_with("?="));
    let encoded;
    let value = if plain {
        text
    } else {
        encoded = format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(text));
        &encoded
    };
    HeaderValue::from_str(value).expect("printable ASCII is a valid header value")
}
