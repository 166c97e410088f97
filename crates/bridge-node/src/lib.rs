//! N-API binding of fastmcp-bridge: converts types and calls the core.
//!
//! Values cross the boundary as JSON text (parsed by the JS wrapper) and
//! errors as a structured [`NativeError`], never as a thrown exception, so
//! that the JS side can build a `BridgeError` with its code and data.

use std::sync::Arc;

use bridge_core::{Bridge, BridgeConfig, Error};
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
    /// JSON text of the JSON-RPC `result`.
    pub result: Option<String>,
    /// The failure.
    pub error: Option<NativeError>,
}

fn failure(err: Error) -> Outcome {
    let message = match &err {
        Error::JsonRpc { message, .. } => message.clone(),
        other => other.to_string(),
    };
    Outcome {
        result: None,
        error: Some(NativeError {
            name: err.name().map(str::to_owned),
            code: err.rpc_code(),
            message,
            data: err.data().map(|d| d.to_string()),
        }),
    }
}

fn outcome(result: Result<serde_json::Value, Error>) -> Outcome {
    match result {
        Ok(value) => Outcome {
            result: Some(value.to_string()),
            error: None,
        },
        Err(err) => failure(err),
    }
}

/// The native bridge; use the `Bridge` class of the JS package instead.
#[napi]
pub struct NativeBridge {
    inner: Arc<Bridge>,
}

#[napi]
impl NativeBridge {
    /// Creates a bridge from its options as JSON text (camelCase).
    ///
    /// Throws `INVALID_ARGUMENT: …` when the options are malformed.
    #[napi(constructor)]
    pub fn new(options_json: String) -> napi::Result<Self> {
        let config = BridgeConfig::from_json(&options_json)
            .map_err(|e| napi::Error::from_reason(format!("INVALID_ARGUMENT: {e}")))?;
        Ok(NativeBridge {
            inner: Arc::new(Bridge::new(config)),
        })
    }

    /// Sends a JSON-RPC request; `params_json` is JSON text or absent.
    #[napi]
    pub async fn call(
        &self,
        workspace_id: String,
        method: String,
        params_json: Option<String>,
    ) -> Outcome {
        let params = match params_json.as_deref().map(serde_json::from_str) {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(e)) => return failure(Error::InvalidArgument(format!("params: {e}"))),
        };
        let bridge = self.inner.clone();
        outcome(bridge.call(&workspace_id, &method, params).await)
    }

    /// The workspace server's `InitializeResult`, starting it if needed.
    #[napi]
    pub async fn server_info(&self, workspace_id: String) -> Outcome {
        let bridge = self.inner.clone();
        outcome(bridge.server_info(&workspace_id).await)
    }

    /// The configured workspace ids, sorted.
    #[napi]
    pub fn workspace_ids(&self) -> Vec<String> {
        self.inner.workspace_ids()
    }

    /// Stops every process the bridge started. Idempotent.
    #[napi]
    pub async fn close(&self) {
        let bridge = self.inner.clone();
        bridge.close().await;
    }
}
