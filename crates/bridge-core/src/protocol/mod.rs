//! The MCP protocol layer, between sessions and transports: the revisions
//! the core speaks ([`version`]), the handshake ([`handshake`]), the state
//! replayed on a new MCP session ([`replay`]), the sessionless revision's
//! `subscriptions/listen` ([`listen`]), and the dispatch of what the server
//! sends ([`dispatch`]). It knows transports only through the
//! [`Transport`](crate::transport::Transport) trait; sessions use it, and a
//! transport never imports it.

pub mod dispatch;
pub mod handshake;
pub(crate) mod listen;
pub mod replay;
pub mod version;

pub use handshake::ClientIdentity;
pub use version::{MetaKey, Revision};
