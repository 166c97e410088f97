//! Outcomes and failures as JS sees them: a failure crosses as a structured
//! [`NativeError`], never as a thrown exception, so that the JS side builds
//! a `BridgeError` with its code and data.

use bridge_core::Error;
use napi_derive::napi;

/// A failed call, as the JS wrapper turns it into a `BridgeError`.
#[napi(object)]
pub struct NativeError {
    /// Symbolic name from `errors.json` (e.g. `UNKNOWN_WORKSPACE`); absent
    /// for a JSON-RPC error returned by the server.
    pub name: Option<String>,
    /// JSON-RPC error code: the bridge's own, or the server's.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
    /// JSON text of structured details, if any.
    pub data: Option<String>,
}

/// The outcome of a native call: exactly one of `result` and `error`.
#[napi(object)]
pub struct Outcome {
    /// JSON text of the JSON-RPC `result` (for a call: as the server wrote
    /// it).
    pub result: Option<String>,
    /// The failure.
    pub error: Option<NativeError>,
}

/// The failure `err`, as JS sees it.
pub(crate) fn error(err: Error) -> NativeError {
    let message = match &err {
        Error::JsonRpc { message, .. } => message.clone(),
        other => other.to_string(),
    };
    NativeError {
        name: err.name().map(str::to_owned),
        code: err.rpc_code(),
        message,
        data: err.data().map(|d| d.to_string()),
    }
}

/// The outcome of a call that failed.
pub(crate) fn failure(err: Error) -> Outcome {
    Outcome {
        result: None,
        error: Some(error(err)),
    }
}

/// The outcome of a call whose result (or whole response) is JSON text.
pub(crate) fn text_outcome(result: Result<String, Error>) -> Outcome {
    match result {
        Ok(text) => Outcome {
            result: Some(text),
            error: None,
        },
        Err(err) => failure(err),
    }
}

/// The outcome of a call whose result is a JSON value.
pub(crate) fn outcome(result: Result<serde_json::Value, Error>) -> Outcome {
    match result {
        Ok(value) => Outcome {
            result: Some(value.to_string()),
            error: None,
        },
        Err(err) => failure(err),
    }
}

/// The outcome of a call whose result serializes to JSON.
pub(crate) fn json_outcome<T: serde::Serialize>(result: Result<T, Error>) -> Outcome {
    outcome(result.map(|value| serde_json::to_value(value).expect("serializable")))
}
