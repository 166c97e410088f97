//! fastmcp-bridge core: run one Python FastMCP hub process per workspace and
//! call it like a local async function.
//!
//! This crate knows nothing of N-API or Node; `crates/bridge-node` wraps it.
//!
//! # Theory of operation
//!
//! A [`Bridge`] holds one [`Workspace`] per configured id. A workspace's hub
//! process is spawned on its first call ([`process`]): the core waits for
//! the hub's single ready line on stdout, which names its MCP endpoint, then
//! performs MCP initialization once per process ([`session`]): `initialize`,
//! or with the sessionless 2026-07-28 revision `server/discover`, after which
//! every request carries the client's identity ([`config::Protocol`]).
//!
//! A call passes the workspace's bounded priority queue ([`queue`]), gets a
//! request id and a reply channel in the pending map ([`pending`]), and is
//! sent over a [`transport::Transport`]: MCP streamable HTTP on TCP loopback
//! or a Unix socket ([`transport::http`]), or newline-delimited JSON-RPC on a
//! child's stdin and stdout ([`transport::stdio`]). The transport hands every message the
//! server sends to the workspace's inbox, which routes responses and
//! progress to the calls waiting for them. A call settles exactly once: with
//! the response's `result`, or with an [`Error`] (server error, timeout,
//! abort, crash, close) whose symbolic name and code come from the
//! repository's `errors.json`. The full sequence, with deadlines,
//! cancellation and retries, is in [`workspace`]'s theory of operation.
//!
//! [`Bridge::close`] stops every process it started: the hub exits when its
//! stdin closes, and is killed if it has not after a grace period.

pub mod backoff;
pub mod bridge;
pub mod call;
pub mod config;
pub mod error;
mod fleet;
pub mod health;
pub mod isolation;
pub mod jsonrpc;
pub mod launcher;
pub mod logs;
pub mod metrics;
pub mod pending;
pub mod process;
pub mod protocol;
pub mod queue;
pub mod request_log;
pub mod session;
pub mod supervisor;
pub mod transport;
pub mod workspace;

pub use bridge::{Bridge, BridgeHandlers};
pub use call::CallOptions;
pub use config::{BridgeConfig, LauncherKind, Limits, Protocol, SessionMode, TransportKind, UnknownName, WorkspaceSpec};
pub use error::{Error, Result};
pub use isolation::{Isolation, LimitReason, Network, Sandbox, User};
pub use metrics::MetricsSnapshot;
pub use call::Progress;
pub use queue::Priority;
pub use session::ClientIdentity;
pub use supervisor::WorkspaceStatus;
pub use workspace::{SessionHandle, Workspace};
