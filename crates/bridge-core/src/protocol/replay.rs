//! What a client set on its MCP session that the server keeps, replayed on
//! each MCP session that replaces it.

use serde_json::{json, Value};

/// What a client set on its MCP session that the server keeps for the
/// session, recorded from requests the server answered with a result:
/// the last `logging/setLevel` (MCP 2025-06-18, Server Features / Utilities
/// / Logging) and the URIs of `resources/subscribe` not undone by a
/// `resources/unsubscribe` (Server Features / Resources / Subscriptions).
/// Shared by the MCP sessions that succeed one another for one client, so
/// that each new one is set up as the last one was ([`SessionState::requests`]).
#[derive(Default, Debug)]
pub(crate) struct SessionState {
    inner: parking_lot::Mutex<RecordedState>,
}

#[derive(Default, Debug)]
struct RecordedState {
    /// Params of the last accepted `logging/setLevel`.
    level: Option<Value>,
    /// Subscribed URIs, in the order they were first subscribed.
    subscriptions: Vec<String>,
}

impl SessionState {
    /// Whether requests of `method` change the recorded state.
    pub(crate) fn records(method: &str) -> bool {
        matches!(method, "logging/setLevel" | "resources/subscribe" | "resources/unsubscribe")
    }

    /// Records a request of `method` with `params` that the server answered
    /// with a result; other methods, and params without the member the
    /// method needs, change nothing.
    pub(crate) fn record(&self, method: &str, params: Option<&Value>) {
        let mut state = self.inner.lock();
        let uri = || params.and_then(|p| p.get("uri")).and_then(Value::as_str).map(str::to_owned);
        match method {
            "logging/setLevel" => {
                if let Some(level) = params.and_then(|p| p.get("level")) {
                    state.level = Some(json!({ "level": level }));
                }
            }
            "resources/subscribe" => {
                if let Some(uri) = uri() {
                    if !state.subscriptions.contains(&uri) {
                        state.subscriptions.push(uri);
                    }
                }
            }
            "resources/unsubscribe" => {
                if let Some(uri) = uri() {
                    state.subscriptions.retain(|s| *s != uri);
                }
            }
            _ => {}
        }
    }

    /// The subscribed URIs, in the order they were first subscribed.
    pub(crate) fn subscriptions(&self) -> Vec<String> {
        self.inner.lock().subscriptions.clone()
    }

    /// The requests that set a new MCP session up as recorded, in order:
    /// the logging level first, then one `resources/subscribe` per URI.
    pub(crate) fn requests(&self) -> Vec<(&'static str, Value)> {
        let state = self.inner.lock();
        let level = state.level.iter().map(|params| ("logging/setLevel", params.clone()));
        let subscriptions = state.subscriptions.iter().map(|uri| ("resources/subscribe", json!({ "uri": uri })));
        level.chain(subscriptions).collect()
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_state_keeps_the_last_level_and_the_subscriptions_left_in_first_order() {
        let state = SessionState::default();
        assert!(state.requests().is_empty());
        state.record("logging/setLevel", Some(&json!({ "level": "debug" })));
        state.record("resources/subscribe", Some(&json!({ "uri": "a://1" })));
        state.record("resources/subscribe", Some(&json!({ "uri": "a://2" })));
        state.record("resources/subscribe", Some(&json!({ "uri": "a://1" })));
        state.record("resources/subscribe", Some(&json!({ "uri": "a://3" })));
        state.record("resources/unsubscribe", Some(&json!({ "uri": "a://2" })));
        state.record("logging/setLevel", Some(&json!({ "level": "error", "_meta": { "x": 1 } })));
        assert_eq!(
            state.requests(),
            vec![
                ("logging/setLevel", json!({ "level": "error" })),
                ("resources/subscribe", json!({ "uri": "a://1" })),
                ("resources/subscribe", json!({ "uri": "a://3" })),
            ]
        );
    }

    #[test]
    fn session_state_ignores_other_methods_and_params_without_their_member() {
        let state = SessionState::default();
        assert!(SessionState::records("resources/subscribe"));
        assert!(!SessionState::records("tools/call"));
        state.record("tools/call", Some(&json!({ "uri": "a://1", "level": "debug" })));
        state.record("resources/subscribe", None);
        state.record("resources/subscribe", Some(&json!({ "uri": 7 })));
        state.record("logging/setLevel", Some(&json!({})));
        assert!(state.requests().is_empty());
    }
}
