//! The core's one error type.
//!
//! Every variant has a symbolic name and a JSON-RPC error code, listed in the
//! repository's `errors.json`, the registry shared with the JS and Python
//! sides. A JSON-RPC error returned by the server keeps the server's own code.

use serde_json::Value;

/// Result alias of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong with a call or with the bridge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No workspace with this id is configured.
    #[error("unknown workspace {0:?}")]
    UnknownWorkspace(String),

    /// The workspace process could not be spawned, exited, or did not print
    /// its ready line within the start timeout.
    #[error("workspace {workspace:?} failed to start: {reason}")]
    StartFailed {
        /// Workspace id.
        workspace: String,
        /// Why, in one line.
        reason: String,
        /// The process's last stderr lines, oldest first.
        stderr: Vec<String>,
    },

    /// The connection to the workspace process failed.
    #[error("transport error: {0}")]
    Transport(String),

    /// The workspace process answered something that is not MCP / JSON-RPC 2.0.
    #[error("protocol error: {0}")]
    Protocol(String),

    /// Bridge options or call arguments are malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The bridge was closed.
    #[error("bridge is closed")]
    Closed,

    /// A JSON-RPC error response from the server, passed through unchanged
    /// (JSON-RPC 2.0, section 5.1).
    #[error("server error {code}: {message}")]
    JsonRpc {
        /// The server's error code.
        code: i64,
        /// The server's message.
        message: String,
        /// The server's `data` member, if any.
        data: Option<Value>,
    },
}

impl Error {
    /// The symbolic name from `errors.json`, or `None` for [`Error::JsonRpc`]
    /// (the server's own error).
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Error::UnknownWorkspace(_) => "UNKNOWN_WORKSPACE",
            Error::StartFailed { .. } => "START_FAILED",
            Error::Transport(_) => "TRANSPORT_ERROR",
            Error::Protocol(_) => "PROTOCOL_ERROR",
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::Closed => "BRIDGE_CLOSED",
            Error::JsonRpc { .. } => return None,
        })
    }

    /// The JSON-RPC error code: the bridge's own from `errors.json`, or the
    /// server's for [`Error::JsonRpc`].
    pub fn rpc_code(&self) -> i64 {
        match self {
            Error::UnknownWorkspace(_) => -32001,
            Error::StartFailed { .. } => -32003,
            Error::Transport(_) => -32004,
            Error::Protocol(_) => -32005,
            Error::InvalidArgument(_) => -32006,
            Error::Closed => -32007,
            Error::JsonRpc { code, .. } => *code,
        }
    }

    /// Structured details for the caller: the server's `data`, or for
    /// [`Error::StartFailed`] `{ "workspace", "stderr": [lines] }`.
    pub fn data(&self) -> Option<Value> {
        match self {
            Error::JsonRpc { data, .. } => data.clone(),
            Error::StartFailed {
                workspace, stderr, ..
            } => Some(serde_json::json!({ "workspace": workspace, "stderr": stderr })),
            Error::UnknownWorkspace(id) => Some(serde_json::json!({ "workspace": id })),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of each variant of the bridge's own errors.
    fn own_errors() -> Vec<Error> {
        vec![
            Error::UnknownWorkspace("w".into()),
            Error::StartFailed {
                workspace: "w".into(),
                reason: "r".into(),
                stderr: vec![],
            },
            Error::Transport("t".into()),
            Error::Protocol("p".into()),
            Error::InvalidArgument("a".into()),
            Error::Closed,
        ]
    }

    #[test]
    fn names_and_codes_match_the_shared_registry() {
        let registry: Value =
            serde_json::from_str(include_str!("../../../errors.json")).expect("errors.json parses");
        let entries = registry["errors"].as_array().expect("errors array");
        let errors = own_errors();
        assert_eq!(entries.len(), errors.len(), "every registry entry has a variant");
        for err in errors {
            let name = err.name().expect("own errors have a name");
            let entry = entries
                .iter()
                .find(|e| e["name"] == name)
                .unwrap_or_else(|| panic!("{name} is missing from errors.json"));
            assert_eq!(entry["code"].as_i64(), Some(err.rpc_code()), "code of {name}");
        }
    }

    #[test]
    fn server_errors_keep_the_server_code_and_have_no_name() {
        let err = Error::JsonRpc {
            code: -32601,
            message: "Method not found".into(),
            data: None,
        };
        assert_eq!(err.name(), None);
        assert_eq!(err.rpc_code(), -32601);
    }

    #[test]
    fn display_is_lowercase_without_trailing_period() {
        for err in own_errors() {
            let text = err.to_string();
            assert!(text.chars().next().is_some_and(|c| c.is_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
