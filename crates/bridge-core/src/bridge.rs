//! The bridge: workspaces by id, each reached through its own process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::config::{BridgeConfig, HubCommand};
use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// Runs and talks to one hub process per workspace.
pub struct Bridge {
    workspaces: HashMap<String, Arc<Workspace>>,
    closed: Arc<AtomicBool>,
}

impl Bridge {
    /// A bridge over the configured workspaces. Starts nothing: each process
    /// is spawned on its workspace's first call.
    pub fn new(config: BridgeConfig) -> Self {
        let closed = Arc::new(AtomicBool::new(false));
        let workspaces = config
            .workspaces
            .iter()
            .map(|(id, spec)| {
                let command = HubCommand::new(&config, spec);
                let workspace = Workspace::new(id.clone(), command, closed.clone());
                (id.clone(), Arc::new(workspace))
            })
            .collect();
        Bridge { workspaces, closed }
    }

    /// The workspace with this id.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`Bridge::close`]; [`Error::UnknownWorkspace`].
    pub fn workspace(&self, id: &str) -> Result<&Arc<Workspace>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.workspaces
            .get(id)
            .ok_or_else(|| Error::UnknownWorkspace(id.to_owned()))
    }

    /// The configured workspace ids, sorted.
    pub fn workspace_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.workspaces.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Sends a JSON-RPC request to a workspace and resolves with its `result`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownWorkspace`], then as [`Workspace::call`].
    ///
    /// # Cancel safety
    ///
    /// As [`Workspace::call`].
    pub async fn call(&self, workspace: &str, method: &str, params: Option<Value>) -> Result<Value> {
        self.workspace(workspace)?.call(method, params).await
    }

    /// The workspace server's `InitializeResult`, starting it if needed.
    ///
    /// # Errors
    ///
    /// As [`Bridge::call`].
    pub async fn server_info(&self, workspace: &str) -> Result<Value> {
        self.workspace(workspace)?.server_info().await
    }

    /// Stops every process the bridge started and refuses later calls with
    /// [`Error::Closed`]. Idempotent.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let stops = self.workspaces.values().map(|w| w.stop());
        futures_util::future::join_all(stops).await;
    }
}
