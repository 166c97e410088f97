//! How the core reaches a workspace process.
//!
//! A transport carries JSON-RPC messages to one MCP server and brings back
//! the response to each request. It is small on purpose (send, close); the
//! MCP session handshake is done above it, in [`crate::workspace`].

pub mod http;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::error::Result;

/// One connection to an MCP server.
pub trait Transport: Send + Sync + 'static {
    /// Sends one JSON-RPC message.
    ///
    /// For a request, resolves with the server's response to it; for a
    /// notification or response, resolves with `None` once the server has
    /// accepted it.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`](crate::Error::Transport) when the connection
    /// fails; [`Error::Protocol`](crate::Error::Protocol) when the server's
    /// answer is not valid MCP.
    fn send(&self, message: Value) -> BoxFuture<'_, Result<Option<Value>>>;

    /// Ends the MCP session on the server, if the transport has one. Errors
    /// are logged, not returned: closing is best effort.
    fn close(&self) -> BoxFuture<'_, ()>;
}
