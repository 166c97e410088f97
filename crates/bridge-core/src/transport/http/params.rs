//! `Mcp-Param-*` headers of the sessionless revision (MCP 2026-07-28, Basic
//! / Transports, Streamable HTTP): a tool's input schema may mark a
//! property, reached from the root through `properties` alone and of type
//! `string`, `integer` or `boolean`, with `"x-mcp-header": "<Token>"`; a
//! `tools/call` of that tool then mirrors the argument's value in the header
//! `Mcp-Param-<Token>`, and the server rejects the call (`HeaderMismatch`,
//! -32020) when header and argument disagree. The annotations are learned
//! from the server's `tools/list` results (as the MCP Python SDK's client
//! does).

use std::collections::HashMap;

use hyper::header::{HeaderName, HeaderValue};
use serde_json::Value;

use super::headers::header_value;

/// The schema keyword that marks a property.
const ANNOTATION: &str = "x-mcp-header";
/// The prefix of the header a marked argument goes in.
const PREFIX: &str = "mcp-param-";
/// Deepest `properties` chain followed.
const MAX_DEPTH: usize = 16;

/// One marked property: its path of `properties` keys, and its header.
#[derive(Debug, Clone, PartialEq)]
struct Marked {
    path: Vec<String>,
    header: HeaderName,
}

/// The marked properties of the tools a server listed, by tool name.
#[derive(Debug, Default)]
pub(super) struct ParamHeaders {
    tools: HashMap<String, Vec<Marked>>,
    /// Whether a `tools/list` result was learned from.
    listed: bool,
}

impl ParamHeaders {
    /// Whether a `tools/list` result was learned from yet.
    pub(super) fn listed(&self) -> bool {
        self.listed
    }

    /// Learns the marked properties of a `tools/list` result (its JSON
    /// text). `first_page`: the request had no `cursor`; a first page
    /// without `nextCursor` is the whole listing and replaces what was
    /// known, another page adds to it. A result that names no annotation is
    /// not parsed, unless it may drop a known one.
    pub(super) fn learn(&mut self, result: &str, first_page: bool) {
        let whole = first_page && !result.contains("\"nextCursor\"");
        if !result.contains(ANNOTATION) && (whole || self.tools.is_empty()) {
            if whole {
                self.tools.clear();
            }
            self.listed = true;
            return;
        }
        let Ok(listing) = serde_json::from_str::<Value>(result) else {
            return;
        };
        let Some(tools) = listing.get("tools").and_then(Value::as_array) else {
            return;
        };
        if whole {
            self.tools.clear();
        }
        for tool in tools {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                continue;
            };
            match tool.get("inputSchema").map(marked) {
                Some(Some(marks)) if !marks.is_empty() => {
                    self.tools.insert(name.to_owned(), marks);
                }
                _ => {
                    self.tools.remove(name);
                }
            }
        }
        self.listed = true;
    }

    /// Whether the tool `name` has marked properties.
    pub(super) fn marks(&self, name: &str) -> bool {
        self.tools.contains_key(name)
    }

    /// The `Mcp-Param-*` headers of a `tools/call` of `name` with
    /// `arguments`: one per marked property whose argument is present, not
    /// null and a string, number or boolean (`true` / `false`; a number as
    /// JSON writes it), in the revision's header encoding (`=?base64?…?=`
    /// for text that is not printable ASCII).
    pub(super) fn headers(&self, name: &str, arguments: &Value) -> Vec<(HeaderName, HeaderValue)> {
        let Some(marks) = self.tools.get(name) else {
            return Vec::new();
        };
        marks
            .iter()
            .filter_map(|mark| {
                let value = mark
                    .path
                    .iter()
                    .try_fold(arguments, |node, key| node.as_object()?.get(key))?;
                let text = match value {
                    Value::String(text) => text.clone(),
                    Value::Bool(flag) => flag.to_string(),
                    Value::Number(number) => number.to_string(),
                    _ => return None,
                };
                Some((mark.header.clone(), header_value(&text)))
            })
            .collect()
    }
}

/// The marked properties of an input schema; `None` when a mark is invalid
/// (not on a `properties` chain from the root, not an RFC 9110 token, not on
/// a string, integer or boolean property, or a header named twice, case
/// aside): the server then checks no header, and none is sent.
fn marked(schema: &Value) -> Option<Vec<Marked>> {
    let mut marks = Vec::new();
    let mut path = Vec::new();
    if schema.get(ANNOTATION).is_some() {
        return None;
    }
    walk(schema, &mut path, &mut marks)?;
    let mut seen = std::collections::HashSet::new();
    marks
        .iter()
        .all(|m| seen.insert(m.header.clone()))
        .then_some(marks)
}

fn walk(schema: &Value, path: &mut Vec<String>, marks: &mut Vec<Marked>) -> Option<()> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Some(());
    };
    if path.len() >= MAX_DEPTH {
        return Some(());
    }
    for (key, property) in properties {
        path.push(key.clone());
        if let Some(token) = property.get(ANNOTATION) {
            let token = token.as_str()?;
            let typed = matches!(
                property.get("type").and_then(Value::as_str),
                Some("string" | "integer" | "boolean")
            );
            if !typed || token.is_empty() || !token.bytes().all(is_token_byte) {
                return None;
            }
            // Header names are case-insensitive: HeaderName lowercases.
            let header = HeaderName::from_bytes(format!("{PREFIX}{token}").as_bytes()).ok()?;
            marks.push(Marked {
                path: path.clone(),
                header,
            });
        }
        walk(property, path, marks)?;
        path.pop();
    }
    Some(())
}

/// RFC 9110, 5.6.2 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listing(schema: Value) -> String {
        json!({ "tools": [{ "name": "routed", "inputSchema": schema }] }).to_string()
    }

    fn names(headers: &[(HeaderName, HeaderValue)]) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn marked_arguments_become_headers_in_the_revision_encoding() {
        let mut params = ParamHeaders::default();
        params.learn(
            &listing(json!({ "type": "object", "properties": {
                "region": { "type": "string", "x-mcp-header": "Region" },
                "shard": { "type": "integer", "x-mcp-header": "Shard" },
                "dry": { "type": "boolean", "x-mcp-header": "Dry-Run" },
                "target": { "type": "object", "properties": { "zone": { "type": "string", "x-mcp-header": "Zone" } } },
                "text": { "type": "string" },
            }})),
            true,
        );
        assert!(params.listed() && params.marks("routed"));
        let mut got = names(&params.headers(
            "routed",
            &json!({ "region": "zürich", "shard": 3, "dry": false, "target": { "zone": "b" }, "text": "x" }),
        ));
        got.sort();
        assert_eq!(
            got,
            [
                ("mcp-param-dry-run".into(), "false".into()),
                ("mcp-param-region".into(), "=?base64?esO8cmljaA==?=".into()),
                ("mcp-param-shard".into(), "3".into()),
                ("mcp-param-zone".into(), "b".into()),
            ]
        );
        // Absent, null or not a scalar: no header.
        assert!(params
            .headers("routed", &json!({ "region": null, "target": "flat" }))
            .is_empty());
        assert!(params
            .headers("other", &json!({ "region": "x" }))
            .is_empty());
    }

    #[test]
    fn an_invalid_mark_leaves_the_tool_without_headers() {
        for schema in [
            json!({ "properties": { "a": { "type": "number", "x-mcp-header": "A" } } }),
            json!({ "properties": { "a": { "type": "string", "x-mcp-header": "A B" } } }),
            json!({ "properties": { "a": { "type": "string", "x-mcp-header": "" } } }),
            json!({ "properties": { "a": { "type": "string", "x-mcp-header": 7 } } }),
            json!({ "properties": { "a": { "type": "string", "x-mcp-header": "X" }, "b": { "type": "string", "x-mcp-header": "x" } } }),
            json!({ "type": "string", "x-mcp-header": "Root" }),
        ] {
            let mut params = ParamHeaders::default();
            params.learn(&listing(schema.clone()), true);
            assert!(!params.marks("routed"), "{schema}");
        }
    }

    #[test]
    fn a_whole_listing_replaces_and_a_later_page_adds() {
        let mut params = ParamHeaders::default();
        let marked = json!({ "properties": { "a": { "type": "string", "x-mcp-header": "A" } } });
        params.learn(&listing(marked.clone()), true);
        assert!(params.marks("routed"));
        // A later page without the tool keeps it.
        params.learn(
            &json!({ "tools": [{ "name": "other", "inputSchema": {} }] }).to_string(),
            false,
        );
        assert!(params.marks("routed"));
        // A whole listing without any mark drops it, unparsed.
        params.learn(r#"{"tools":[{"name":"routed","inputSchema":{}}]}"#, true);
        assert!(!params.marks("routed"));
        // A first page with a next one keeps what it does not list.
        params.learn(&listing(marked), true);
        params.learn(r#"{"tools":[],"nextCursor":"2"}"#, true);
        assert!(params.marks("routed"));
    }
}
