//! The core's one error type.
//!
//! Every variant but [`Error::JsonRpc`] has a symbolic name and a JSON-RPC
//! error code, listed in the repository's `errors.json`, the registry shared
//! with the JS and Python sides. A JSON-RPC error returned by the server
//! keeps the server's own code, message and data.

use serde_json::{json, Value};

/// Result alias of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong with a call or with the bridge.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The bridge was closed.
    #[error("bridge is closed")]
    Closed,

    /// The call did not settle in time.
    #[error("request timed out after {ms} ms")]
    Timeout {
        /// The limit that expired, in ms.
        ms: u64,
    },

    /// No workspace with this id is configured.
    #[error("unknown workspace {0:?}")]
    UnknownWorkspace(String),

    /// The workspace process could not be spawned, exited, or did not print
    /// its ready line within the start timeout, or MCP initialization failed.
    #[error("workspace {workspace:?} failed to start: {reason}")]
    StartFailed {
        /// Workspace id.
        workspace: String,
        /// Why, in one line.
        reason: String,
        /// The process's last stderr lines, oldest first.
        stderr: Vec<String>,
    },

    /// The workspace process exited while the call was in flight.
    #[error("workspace {workspace:?} process exited ({status}{})", reason.map(|r| format!(", {}", r.as_str())).unwrap_or_default())]
    WorkspaceCrashed {
        /// Workspace id.
        workspace: String,
        /// Exit code or signal, e.g. `exit status 1` or `signal 9 (SIGKILL)`.
        status: String,
        /// The isolation limit that ended it, when one did.
        reason: Option<crate::isolation::LimitReason>,
        /// The process's last stderr lines, oldest first.
        stderr: Vec<String>,
    },

    /// The connection to the workspace process failed.
    #[error("transport error: {0}")]
    Transport(String),

    /// The workspace process answered something that is not MCP / JSON-RPC 2.0.
    #[error("protocol error: {0}")]
    Protocol(String),

    /// The workspace's queue is full.
    #[error("queue full: {max_queue} requests already wait")]
    QueueFull {
        /// The queue's capacity.
        max_queue: usize,
    },

    /// The caller aborted the call.
    #[error("request aborted")]
    Aborted,

    /// Bridge options or call arguments are malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A request or response exceeds the size limit: the bridge's
    /// `maxMessageBytes`, or the server's (it answered HTTP 413).
    #[error("{what} larger than {}", limit(.max))]
    PayloadTooLarge {
        /// `"request"` or `"response"`.
        what: &'static str,
        /// The limit, in bytes; `None` when the server's, which it did not name.
        max: Option<usize>,
    },

    /// The workspace restarted more often than its restart intensity allows.
    #[error("workspace {workspace:?} failed: {reason}")]
    WorkspaceFailed {
        /// Workspace id.
        workspace: String,
        /// The last failure.
        reason: String,
    },

    /// The workspace was stopped with the call in flight.
    #[error("workspace {workspace:?} was stopped")]
    WorkspaceStopped {
        /// Workspace id.
        workspace: String,
    },

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

/// The size limit of [`Error::PayloadTooLarge`], for its message.
fn limit(max: &Option<usize>) -> String {
    match max {
        Some(max) => format!("{max} bytes"),
        None => "the server accepts (HTTP 413)".to_owned(),
    }
}

impl Error {
    /// The symbolic name from `errors.json`, or `None` for [`Error::JsonRpc`]
    /// (the server's own error).
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Error::Closed => "CLOSED",
            Error::Timeout { .. } => "TIMEOUT",
            Error::UnknownWorkspace(_) => "UNKNOWN_WORKSPACE",
            Error::StartFailed { .. } => "START_FAILED",
            Error::WorkspaceCrashed { .. } => "WORKSPACE_CRASHED",
            Error::Transport(_) => "TRANSPORT_ERROR",
            Error::Protocol(_) => "PROTOCOL_ERROR",
            Error::QueueFull { .. } => "QUEUE_FULL",
            Error::Aborted => "ABORTED",
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Error::WorkspaceFailed { .. } => "WORKSPACE_FAILED",
            Error::WorkspaceStopped { .. } => "WORKSPACE_STOPPED",
            Error::JsonRpc { .. } => return None,
        })
    }

    /// The JSON-RPC error code: the bridge's own from `errors.json`, or the
    /// server's for [`Error::JsonRpc`].
    pub fn rpc_code(&self) -> i64 {
        match self {
            Error::Closed => -32000,
            Error::Timeout { .. } => -32001,
            Error::UnknownWorkspace(_) => -32003,
            Error::StartFailed { .. } => -32004,
            Error::WorkspaceCrashed { .. } => -32005,
            Error::Transport(_) => -32006,
            Error::Protocol(_) => -32007,
            Error::QueueFull { .. } => -32008,
            Error::Aborted => -32009,
            Error::InvalidArgument(_) => -32010,
            Error::PayloadTooLarge { .. } => -32011,
            Error::WorkspaceFailed { .. } => -32012,
            Error::WorkspaceStopped { .. } => -32013,
            Error::JsonRpc { code, .. } => *code,
        }
    }

    /// Structured details for the caller: the server's `data`, or the
    /// bridge's own (`{ workspace, stderr }` for start failures and crashes,
    /// `{ timeoutMs }`, `{ maxQueue }`, `{ maxBytes }`).
    pub fn data(&self) -> Option<Value> {
        match self {
            Error::JsonRpc { data, .. } => data.clone(),
            Error::StartFailed {
                workspace, stderr, ..
            } => Some(json!({ "workspace": workspace, "stderr": stderr })),
            Error::WorkspaceCrashed {
                workspace,
                status,
                reason,
                stderr,
            } => {
                let mut data = json!({ "workspace": workspace, "status": status, "stderr": stderr });
                if let Some(reason) = reason {
                    data["reason"] = reason.as_str().into();
                }
                Some(data)
            }
            Error::UnknownWorkspace(id)
            | Error::WorkspaceFailed { workspace: id, .. }
            | Error::WorkspaceStopped { workspace: id } => Some(json!({ "workspace": id })),
            Error::Timeout { ms } => Some(json!({ "timeoutMs": ms })),
            Error::QueueFull { max_queue } => Some(json!({ "maxQueue": max_queue })),
            Error::PayloadTooLarge { max, .. } => max.map(|max| json!({ "maxBytes": max })),
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
            Error::Closed,
            Error::Timeout { ms: 1 },
            Error::UnknownWorkspace("w".into()),
            Error::StartFailed {
                workspace: "w".into(),
                reason: "r".into(),
                stderr: vec![],
            },
            Error::WorkspaceCrashed {
                workspace: "w".into(),
                status: "exit status 1".into(),
                reason: None,
                stderr: vec![],
            },
            Error::Transport("t".into()),
            Error::Protocol("p".into()),
            Error::QueueFull { max_queue: 1 },
            Error::Aborted,
            Error::InvalidArgument("a".into()),
            Error::PayloadTooLarge {
                what: "request",
                max: Some(1),
            },
            Error::WorkspaceFailed {
                workspace: "w".into(),
                reason: "r".into(),
            },
            Error::WorkspaceStopped {
                workspace: "w".into(),
            },
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
