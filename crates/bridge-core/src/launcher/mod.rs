//! How a workspace's MCP server comes to exist.
//!
//! A [`Launcher`] brings up one server for a workspace and hands the
//! supervisor two things ([`Launched`]): the [`Endpoint`] where it takes MCP
//! messages, and a [`Process`], the handle through which the supervisor
//! watches it end and stops it. How bytes then reach the endpoint is a
//! [`Transport`](crate::transport::Transport)'s business, and what happens
//! over the server's life (health checks, crash, restart with backoff, stop)
//! the supervisor's ([`crate::supervisor`]): a launcher only
//! launches.
//!
//! [`LocalProcess`] spawns the workspace's hub (or, with the stdio transport,
//! its MCP server command) as a child process; [`ForkLauncher`] (Linux)
//! forks a hub from a fork server that has already imported the hub's
//! modules; [`RemoteLauncher`] reaches a server that runs elsewhere (an MCP
//! streamable HTTP endpoint someone else runs), whose `Process` ends when
//! the supervisor gives up on it.

#[cfg(target_os = "linux")]
pub mod fork;
pub mod local;
pub mod remote;

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::process::{ChildStdin, ChildStdout};

use crate::error::Result;
use crate::logs::LogBuffer;
use crate::transport::connect::Connector;

#[cfg(target_os = "linux")]
pub use fork::{ForkLauncher, ForkServer, ForkServers};
pub use local::LocalProcess;
pub use remote::RemoteLauncher;

/// Brings up a workspace's MCP server.
pub trait Launcher: Send + Sync + 'static {
    /// Launches one server for `workspace` and resolves once its endpoint
    /// takes MCP messages (for the hub: once it printed its ready line).
    /// What the server writes goes to `logs`.
    ///
    /// # Errors
    ///
    /// [`Error::StartFailed`](crate::Error::StartFailed) with the reason and
    /// the last stderr lines; whatever the launch started is stopped again.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops whatever it started.
    fn launch<'a>(&'a self, workspace: &'a str, logs: &'a LogBuffer) -> BoxFuture<'a, Result<Launched>>;
}

/// A launched server: where to reach it and how to watch and stop it.
pub struct Launched {
    /// Where it takes MCP messages.
    pub endpoint: Endpoint,
    /// Its lifetime.
    pub process: Box<dyn Process>,
}

/// Where a launched server takes MCP messages.
pub enum Endpoint {
    /// MCP streamable HTTP.
    Http(HttpEndpoint),
    /// Newline-delimited JSON-RPC on the process's stdin and stdout (MCP
    /// 2025-06-18, Basic / Transports / stdio).
    Stdio {
        /// Where the core writes.
        stdin: ChildStdin,
        /// What the core reads.
        stdout: ChildStdout,
    },
}

/// An MCP streamable HTTP endpoint (MCP 2025-06-18, Basic / Transports /
/// Streamable HTTP).
#[derive(Debug, Clone)]
pub struct HttpEndpoint {
    /// The endpoint URL, e.g. `http://127.0.0.1:8123/mcp` (over a Unix
    /// socket the host part names nothing).
    pub url: String,
    /// How connections reach it: TCP, or a Unix socket.
    pub connector: Connector,
    /// Headers sent with every request to it, besides the transport's own
    /// (a remote workspace's `headers`, e.g. `Authorization`).
    pub headers: Vec<(String, String)>,
    /// Whether `GET /health` beside the endpoint answers health checks (the
    /// hub); otherwise they are MCP `ping` requests (MCP 2025-06-18, Basic /
    /// Utilities / Ping).
    pub health_route: bool,
}

/// A launched server's lifetime, as the supervisor sees it.
pub trait Process: Send + Sync + 'static {
    /// The OS process id, when the server is a process of this machine.
    fn pid(&self) -> Option<u32>;

    /// When the server became ready, in ms since the Unix epoch.
    fn started_at(&self) -> u64;

    /// How it ended (`exit status N` or `signal N`), if it has.
    fn exit_now(&self) -> Option<String>;

    /// Resolves with how it ended, the moment it does.
    fn exited(&self) -> BoxFuture<'static, String>;

    /// Ends it at once (SIGKILL to a process group); the end is reported
    /// by [`Process::exited`].
    fn kill(&self);

    /// Ends it gracefully: asks it to exit, waits up to `grace`, then
    /// kills it. Idempotent; resolves once it has ended.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the server to exit or be killed later.
    fn stop(&self, grace: Duration) -> BoxFuture<'_, ()>;

    /// Whether it shares memory pages with other servers (a forked child
    /// with its fork server): then its private memory, not its resident
    /// memory, is what `maxMemoryMb` limits.
    fn shares_memory(&self) -> bool {
        false
    }

    /// Which of its isolation's limits ended it, given how it ended
    /// (`status`); `None` when none did or it has no limits.
    fn limit_reason(&self, _status: &str) -> Option<crate::isolation::LimitReason> {
        None
    }

    /// Whether it is still running.
    fn is_running(&self) -> bool {
        self.exit_now().is_none()
    }

    /// How it ended, waiting up to 500 ms for the end to be noticed;
    /// `None` when it still runs.
    fn exit_status(&self) -> BoxFuture<'_, Option<String>> {
        async move {
            match tokio::time::timeout(Duration::from_millis(500), self.exited()).await {
                Ok(status) => Some(status),
                Err(_) => self.exit_now(),
            }
        }
        .boxed()
    }
}
