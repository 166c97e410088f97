//! One workspace: its hub process, started on first use, and the MCP
//! session the core holds with it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::config::HubCommand;
use crate::error::{Error, Result};
use crate::jsonrpc;
use crate::process::HubProcess;
use crate::transport::http::HttpTransport;
use crate::transport::Transport;

/// The MCP revision the core asks for in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// MCP revisions the core accepts from a server.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// Stderr lines carried by an initialize failure.
const FAILURE_LINES: usize = 20;

/// A started hub process and the MCP session on it.
struct Connection {
    process: HubProcess,
    transport: HttpTransport,
    /// The server's `InitializeResult`.
    init: Value,
}

/// One workspace of a [`Bridge`](crate::Bridge).
pub struct Workspace {
    id: String,
    command: HubCommand,
    closed: Arc<AtomicBool>,
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
    next_id: AtomicU64,
}

impl Workspace {
    pub(crate) fn new(id: String, command: HubCommand, closed: Arc<AtomicBool>) -> Self {
        Workspace {
            id,
            command,
            closed,
            connection: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    /// The workspace id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The live connection, starting the process (and the MCP session) when
    /// there is none or the last one's process has exited. Concurrent first
    /// calls wait for one start.
    async fn connection(&self) -> Result<Arc<Connection>> {
        let mut slot = self.connection.lock().await;
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if let Some(conn) = slot.as_ref() {
            if !conn.process.has_exited().await {
                return Ok(conn.clone());
            }
            tracing::warn!(workspace = self.id, "workspace process exited; starting it again");
        }
        let conn = Arc::new(self.start().await?);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn start(&self) -> Result<Connection> {
        let process = HubProcess::spawn(&self.id, &self.command).await?;
        tracing::info!(workspace = self.id, pid = process.pid(), url = process.url(), "workspace ready");
        let session = async {
            let transport = HttpTransport::new(process.url())?;
            let init = self.initialize(&transport).await?;
            Ok::<_, Error>((transport, init))
        };
        match session.await {
            Ok((transport, init)) => Ok(Connection {
                process,
                transport,
                init,
            }),
            Err(e) => {
                let stderr = process.stderr_tail(FAILURE_LINES);
                process.stop().await;
                Err(Error::StartFailed {
                    workspace: self.id.clone(),
                    reason: format!("MCP initialize failed: {e}"),
                    stderr,
                })
            }
        }
    }

    /// MCP initialization (MCP 2025-06-18, Basic / Lifecycle): `initialize`,
    /// then `notifications/initialized`.
    async fn initialize(&self, transport: &HttpTransport) -> Result<Value> {
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "fastmcp-bridge", "version": env!("CARGO_PKG_VERSION") },
        });
        let request = jsonrpc::request(self.next_id(), "initialize", Some(params));
        let response = transport
            .send(request)
            .await?
            .ok_or_else(|| Error::Protocol("no response to initialize".into()))?;
        let init = jsonrpc::into_result(response)?;
        let version = init
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Protocol("InitializeResult has no protocolVersion".into()))?;
        if !SUPPORTED_PROTOCOL_VERSIONS.contains(&version) {
            return Err(Error::Protocol(format!("unsupported MCP protocol version {version:?}")));
        }
        transport.set_protocol_version(version);
        transport
            .send(jsonrpc::notification("notifications/initialized", None))
            .await?;
        Ok(init)
    }

    /// Sends a JSON-RPC request and resolves with its `result`.
    ///
    /// # Errors
    ///
    /// [`Error::StartFailed`] when the process cannot be started,
    /// [`Error::JsonRpc`] for the server's error response, and
    /// [`Error::Transport`] / [`Error::Protocol`] / [`Error::Closed`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the request; the server may still run it.
    pub async fn call(&self, method: &str, params: Option<Value>) -> Result<Value> {
        let conn = self.connection().await?;
        let request = jsonrpc::request(self.next_id(), method, params);
        let response = conn
            .transport
            .send(request)
            .await?
            .ok_or_else(|| Error::Protocol(format!("no response to {method}")))?;
        jsonrpc::into_result(response)
    }

    /// The server's `InitializeResult` (protocol version, capabilities,
    /// serverInfo, instructions), starting the process if needed.
    ///
    /// # Errors
    ///
    /// As [`Workspace::call`].
    pub async fn server_info(&self) -> Result<Value> {
        Ok(self.connection().await?.init.clone())
    }

    /// The OS process id, when a process is running.
    pub async fn pid(&self) -> Option<u32> {
        self.connection.lock().await.as_ref().and_then(|c| c.process.pid())
    }

    /// Ends the MCP session and stops the process. Idempotent.
    pub async fn stop(&self) {
        let conn = self.connection.lock().await.take();
        if let Some(conn) = conn {
            conn.transport.close().await;
            conn.process.stop().await;
        }
    }
}
