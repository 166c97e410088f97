//! The MCP protocol revisions the core speaks, and the `_meta` keys of the
//! sessionless revision. The list is also the repository's `protocol.json`,
//! which the Express endpoint reads; a test keeps the two the same.

/// An MCP protocol revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Revision {
    /// 2025-03-26, the first with streamable HTTP.
    V2025_03_26,
    /// 2025-06-18.
    V2025_06_18,
    /// 2025-11-25, the one the core asks for in `initialize`.
    V2025_11_25,
    /// 2026-07-28, the sessionless revision: `server/discover` instead of
    /// `initialize`, the client's identity in every request's `_meta`.
    V2026_07_28,
}

impl Revision {
    /// The revision the core asks for in `initialize`.
    pub const LATEST_HANDSHAKE: Revision = Revision::V2025_11_25;
    /// The sessionless revision.
    pub const SESSIONLESS: Revision = Revision::V2026_07_28;
    /// The revisions the core accepts from a server in `initialize`, newest
    /// first.
    pub const HANDSHAKE: [Revision; 3] = [Revision::V2025_11_25, Revision::V2025_06_18, Revision::V2025_03_26];

    /// The revision's date, as MCP names it (`"2025-11-25"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Revision::V2025_03_26 => "2025-03-26",
            Revision::V2025_06_18 => "2025-06-18",
            Revision::V2025_11_25 => "2025-11-25",
            Revision::V2026_07_28 => "2026-07-28",
        }
    }

    /// The revision named `text`; `None` for one the core does not speak.
    pub fn parse(text: &str) -> Option<Revision> {
        [Revision::V2026_07_28].into_iter().chain(Revision::HANDSHAKE).find(|r| r.as_str() == text)
    }

    /// Whether it is the sessionless revision.
    pub fn is_sessionless(self) -> bool {
        self == Revision::SESSIONLESS
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `_meta` keys of the sessionless revision (MCP 2026-07-28, Basic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    /// The revision a request speaks.
    ProtocolVersion,
    /// The client's `clientInfo`.
    ClientInfo,
    /// The client's capabilities.
    ClientCapabilities,
    /// The server's `serverInfo`, in a `DiscoverResult`'s `_meta`.
    ServerInfo,
}

impl MetaKey {
    /// The key as it stands in `_meta`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetaKey::ProtocolVersion => "io.modelcontextprotocol/protocolVersion",
            MetaKey::ClientInfo => "io.modelcontextprotocol/clientInfo",
            MetaKey::ClientCapabilities => "io.modelcontextprotocol/clientCapabilities",
            MetaKey::ServerInfo => "io.modelcontextprotocol/serverInfo",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_match_the_shared_protocol_json() {
        let shared: serde_json::Value =
            serde_json::from_str(include_str!("../../../../protocol.json")).expect("protocol.json parses");
        let handshake: Vec<&str> = Revision::HANDSHAKE.iter().map(|r| r.as_str()).collect();
        assert_eq!(shared["handshake"], serde_json::json!(handshake));
        assert_eq!(shared["handshake"][0], Revision::LATEST_HANDSHAKE.as_str());
        assert_eq!(shared["sessionless"], Revision::SESSIONLESS.as_str());
    }

    #[test]
    fn names_parse_back_and_unknown_ones_do_not() {
        for revision in Revision::HANDSHAKE.into_iter().chain([Revision::SESSIONLESS]) {
            assert_eq!(Revision::parse(revision.as_str()), Some(revision));
        }
        assert_eq!(Revision::parse("2024-11-05"), None);
        assert!(Revision::SESSIONLESS.is_sessionless() && !Revision::LATEST_HANDSHAKE.is_sessionless());
    }
}
