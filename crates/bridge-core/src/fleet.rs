//! The servers of one bridge, under its `maxRunning` cap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde_json::json;

use crate::supervisor::{Supervisor, EVICTION_GRACE};

/// How often a start that waits for room under `maxRunning` looks again.
const ROOM_POLL: Duration = Duration::from_millis(50);

/// The supervisors of a bridge's workspaces, by workspace id.
pub(crate) struct Fleet {
    members: RwLock<HashMap<String, Arc<Supervisor>>>,
    /// Most servers running or starting at once; `None`: no cap.
    max_running: Option<usize>,
}

impl Fleet {
    pub(crate) fn new(max_running: Option<usize>) -> Self {
        Fleet {
            members: RwLock::new(HashMap::new()),
            max_running,
        }
    }

    /// Adds a workspace's supervisor.
    pub(crate) fn join(&self, id: &str, supervisor: Arc<Supervisor>) {
        self.members.write().insert(id.to_owned(), supervisor);
    }

    /// Removes a workspace's supervisor.
    pub(crate) fn leave(&self, id: &str) {
        self.members.write().remove(id);
    }

    /// Under the `maxRunning` cap, stops the least recently used idle
    /// server until `starting`'s may start; with none idle, waits (the
    /// caller's deadline bounds the wait). Each server stopped for room is
    /// reported with an `evicted` event.
    pub(crate) async fn make_room(&self, starting: &Arc<Supervisor>) {
        let Some(max_running) = self.max_running else { return };
        loop {
            let others: Vec<Arc<Supervisor>> = self
                .members
                .read()
                .values()
                .filter(|s| !Arc::ptr_eq(s, starting))
                .cloned()
                .collect();
            if others.iter().filter(|s| s.is_active()).count() < max_running {
                return;
            }
            let victim = others.iter().filter(|s| s.is_idle()).min_by_key(|s| s.last_used()).cloned();
            match victim {
                Some(victim) => {
                    victim.emit("evicted", json!({ "for": starting.id(), "maxRunning": max_running }));
                    victim.stop(EVICTION_GRACE).await;
                }
                None => tokio::time::sleep(ROOM_POLL).await,
            }
        }
    }
}
