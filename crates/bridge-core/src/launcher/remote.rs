//! Remote workspaces: an MCP streamable HTTP endpoint someone else runs (a
//! Kubernetes Service, another host, another bridge's Express endpoint).
//!
//! Launching one starts nothing: it hands the supervisor the endpoint (with
//! the workspace's `headers`, health checked by MCP `ping`) and a
//! [`Process`] that stands for the connection. The supervisor then does
//! what it does for a local server: the MCP handshake (a failure is
//! `START_FAILED`, retried with backoff), health checks, restart after
//! `maxHealthFailures` failed pings (which ends this `Process` and launches,
//! that is connects and initializes, again), `failed` after `maxRestarts`
//! within `restartWindowMs`, and a stop that closes the MCP sessions
//! (`DELETE`) before ending the `Process`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::{Endpoint, HttpEndpoint, Launched, Launcher, Process};
use crate::config::RemoteSpec;
use crate::error::Result;
use crate::logs::{now_ms, LogBuffer};
use crate::transport::connect::Connector;

/// Connects a workspace to its remote endpoint (see the module docs).
pub struct RemoteLauncher {
    remote: RemoteSpec,
}

impl RemoteLauncher {
    /// A launcher of the endpoint `remote`.
    pub fn new(remote: RemoteSpec) -> Self {
        RemoteLauncher { remote }
    }
}

impl Launcher for RemoteLauncher {
    fn launch<'a>(&'a self, _workspace: &'a str, logs: &'a LogBuffer) -> BoxFuture<'a, Result<Launched>> {
        async move {
            // The workspace's log tells its operator where it went (a line
            // of the bridge's, not the server's stderr).
            logs.push("bridge", format!("connecting to {}", self.remote.url));
            Ok(Launched {
                endpoint: Endpoint::Http(HttpEndpoint {
                    url: self.remote.url.clone(),
                    connector: Connector::tcp(),
                    headers: self.remote.headers.clone(),
                    health_route: false,
                }),
                process: Box::new(Connection::default()),
            })
        }
        .boxed()
    }
}

/// A remote server's "process": the bridge's connection to it, from launch
/// until the supervisor ends it (a stop, or a restart after failed health
/// checks). It has no pid, and ends only when ended.
struct Connection {
    started_at: u64,
    ended: CancellationToken,
    how: Arc<Mutex<Option<String>>>,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            started_at: now_ms(),
            ended: CancellationToken::new(),
            how: Arc::default(),
        }
    }
}

impl Connection {
    fn end(&self, how: &str) {
        self.how.lock().get_or_insert_with(|| how.to_owned());
        self.ended.cancel();
    }
}

impl Process for Connection {
    fn pid(&self) -> Option<u32> {
        None
    }

    fn started_at(&self) -> u64 {
        self.started_at
    }

    fn exit_now(&self) -> Option<String> {
        self.how.lock().clone()
    }

    fn exited(&self) -> BoxFuture<'static, String> {
        let ended = self.ended.clone();
        let how = self.how.clone();
        async move {
            ended.cancelled().await;
            how.lock().clone().unwrap_or_else(|| "disconnected".to_owned())
        }
        .boxed()
    }

    fn kill(&self) {
        self.end("disconnected");
    }

    fn stop(&self, _grace: Duration) -> BoxFuture<'_, ()> {
        self.end("disconnected");
        async {}.boxed()
    }

    /// At once: a connection has no exit to wait for (a failed call is the
    /// server's, not the end of a process).
    fn exit_status(&self) -> BoxFuture<'_, Option<String>> {
        let status = self.exit_now();
        async move { status }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_ends_only_when_ended() {
        let launcher = RemoteLauncher::new(RemoteSpec {
            url: "http://example.test:8080/mcp".into(),
            headers: vec![("authorization".into(), "Bearer t".into())],
        });
        let logs = LogBuffer::new(10);
        let Launched { endpoint, process } = launcher.launch("w", &logs).await.unwrap();
        let Endpoint::Http(http) = endpoint else { panic!("an HTTP endpoint") };
        assert_eq!((http.url.as_str(), http.health_route), ("http://example.test:8080/mcp", false));
        assert_eq!(http.headers, [("authorization".to_owned(), "Bearer t".to_owned())]);
        assert!(logs.tail(1)[0].line.contains("http://example.test:8080/mcp"));
        assert_eq!(process.pid(), None);
        let exited = process.exited();
        assert!(process.exit_now().is_none());
        process.stop(Duration::from_secs(1)).await;
        assert_eq!(exited.await, "disconnected");
        assert_eq!(process.exit_now().as_deref(), Some("disconnected"));
    }
}
