//! How the core reaches a workspace process.
//!
//! A transport carries JSON-RPC messages to one MCP server, encoded once by
//! the caller ([`Outgoing`]), and hands every message the server sends back
//! (responses, notifications, server requests), decoded once
//! ([`crate::jsonrpc::decode`]), to an [`Inbox`]. It is small on purpose (send, close); the
//! correlation of responses to calls and the MCP session handshake are done
//! above it, in [`crate::pending`] and [`crate::workspace`].

pub mod connect;
pub mod http;
pub mod stdio;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::error::Error;
use crate::jsonrpc::{Incoming, Outgoing};

/// Where a transport delivers what the server sends.
pub trait Inbox: Send + Sync + 'static {
    /// One message from the server, decoded (a response's `result` kept as
    /// the server's text). `related` is the id of the request on whose
    /// response stream it came, when the transport knows it (MCP streamable
    /// HTTP: the POST's SSE stream).
    fn deliver(&self, message: Incoming, related: Option<&Value>);

    /// The server's response to request `id` could not be read (e.g. it
    /// was over the size limit): the call waiting for it fails with
    /// `error`. Ignored by default.
    fn fail(&self, _id: &Value, _error: Error) {}
}

/// A send that failed, and whether the server may have seen the message.
#[derive(Debug, Clone)]
pub struct SendError {
    /// What failed.
    pub error: Error,
    /// `false` only when the message surely never reached the server (the
    /// connection was refused before it was written): only then is a
    /// request safe to send again.
    pub maybe_delivered: bool,
}

impl SendError {
    /// A failure after which the server may have seen the message.
    pub fn delivered(error: Error) -> Self {
        SendError {
            error,
            maybe_delivered: true,
        }
    }
}

/// What a transport that keeps an MCP session of its own (streamable HTTP,
/// whose server may end a session with HTTP 404) needs from the protocol
/// layer to set up the session that replaces it as the first was set up.
/// Implemented by the protocol layer, so that the handshake is written once
/// and a transport imports nothing above it.
pub trait Renewal: Send + Sync + 'static {
    /// Checks the new session's `InitializeResult`; the revision it settles
    /// on, as the `MCP-Protocol-Version` value.
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] for a result the first handshake would refuse.
    fn accept(&self, init: &Value) -> Result<&'static str, Error>;

    /// The requests, with their params, that set the new session up as the
    /// client had set the last one, in order.
    fn replay(&self) -> Vec<(&'static str, Value)>;
}

/// One connection to an MCP server.
pub trait Transport: Send + Sync + 'static {
    /// Sends one JSON-RPC message: its bytes as encoded, unchanged (a
    /// message sent again is sent as the same bytes). Its kind says whether
    /// it is a request, and with which id, so the transport knows which
    /// response answers it.
    ///
    /// For a request, resolves once the server's response to it has been
    /// handed to the inbox (along with whatever the server sent before it on
    /// the same stream); for a notification or response, once the server
    /// has accepted it.
    ///
    /// # Errors
    ///
    /// A [`SendError`] wrapping [`Error::Transport`] when the connection
    /// fails, [`Error::Protocol`] when the server's answer is not valid MCP,
    /// [`Error::PayloadTooLarge`] for an oversized response (or, over stdio,
    /// a message over the size limit, which is then not sent).
    fn send(&self, message: Outgoing) -> BoxFuture<'_, Result<(), SendError>>;

    /// Sends `MCP-Protocol-Version: version` with every later message
    /// (`None`: none). Only streamable HTTP carries the negotiated version
    /// out of band; other transports ignore it. With a `sessionless`
    /// revision (`2026-07-28`) streamable HTTP also names each request's
    /// method (and tool, prompt or resource) in headers and sends no
    /// notifications (MCP 2026-07-28, Basic / Transports).
    fn set_protocol_version(&self, _version: Option<&str>, _sessionless: bool) {}

    /// Whether a server request tied to a call reaches the inbox with that
    /// call's request id (`related`): over streamable HTTP it comes on the
    /// call's response stream. Over stdio nothing ties it to a call.
    fn relates_server_requests(&self) -> bool {
        true
    }

    /// Ends the MCP session on the server, if the transport has one. Errors
    /// are logged, not returned: closing is best effort.
    fn close(&self) -> BoxFuture<'_, ()>;
}
