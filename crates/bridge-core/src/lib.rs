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
//! performs MCP initialization once per process ([`workspace`]). Calls are
//! JSON-RPC 2.0 requests sent over a [`transport::Transport`], today MCP
//! streamable HTTP on TCP loopback ([`transport::http`]); each resolves with
//! the response's `result` or fails with an [`Error`] whose symbolic name
//! and code come from the repository's `errors.json`.
//!
//! [`Bridge::close`] stops every process it started: the hub exits when its
//! stdin closes, and is killed if it has not after a grace period.

pub mod bridge;
pub mod config;
pub mod error;
pub mod jsonrpc;
pub mod process;
pub mod transport;
pub mod workspace;

pub use bridge::Bridge;
pub use config::{BridgeConfig, WorkspaceSpec};
pub use error::{Error, Result};
pub use workspace::Workspace;
