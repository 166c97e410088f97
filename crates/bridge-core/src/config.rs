//! Bridge and workspace options.
//!
//! These are plain Rust values: the N-API binding builds them from the JS
//! options (its `options` module is the schema JS users see, with the
//! typings generated from it), and Rust users build them directly.
//! [`BridgeConfig::validate`] and [`WorkspaceSpec::validate`] are the one
//! check of their values; [`Bridge::new`](crate::Bridge::new) and
//! [`Bridge::add_workspace`](crate::Bridge::add_workspace) run them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::isolation::{Confinement, Isolation};

/// Options of a [`Bridge`](crate::Bridge).
///
/// # Default
///
/// - `python`: `"python3"`
/// - `start_timeout_ms`: 30000
/// - `workspaces`: none
/// - request limits: see [`Limits`]
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Workspaces by id.
    pub workspaces: BTreeMap<String, WorkspaceSpec>,
    /// Python interpreter that has the `fastmcp_workspace` hub installed.
    pub python: String,
    /// How long a workspace process may take to print its ready line, in ms.
    pub start_timeout_ms: u64,
    /// At most this many workspace processes run at once; starting one more
    /// stops the least recently used idle one. Default: no limit.
    pub max_running: Option<usize>,
    /// How every workspace is reached; see [`TransportKind`].
    pub transport: Option<TransportKind>,
    /// Which MCP revision every workspace's sessions speak; see [`Protocol`].
    pub protocol: Option<Protocol>,
    /// How every hub workspace's process comes to exist; see [`LauncherKind`].
    pub launcher: Option<LauncherKind>,
    /// Client capabilities every workspace's default MCP session declares
    /// in `initialize` (e.g. `{"sampling": {}, "elicitation": {}}`).
    pub capabilities: Option<serde_json::Value>,
    /// Request limits of every workspace.
    pub limits: Limits,
    /// OS isolation of every workspace's process; see [`Isolation`].
    pub isolation: Isolation,
    /// Children each fork server keeps forked ahead (the warm pool; see
    /// [`crate::launcher::fork`]). Default: 0.
    pub prewarm: usize,
    /// Records every call in SQLite; see [`crate::request_log`]. Default:
    /// off.
    pub request_log: Option<crate::request_log::RequestLogConfig>,
    /// Asks every workspace's server for OpenTelemetry traces: its process
    /// gets the `OTEL_*` variables of this process's environment and
    /// `FASTMCP_WORKSPACE_TRACING=1`, on which the hub installs the
    /// OpenTelemetry SDK with an OTLP exporter and turns FastMCP's own
    /// telemetry on. Default: false.
    pub tracing: bool,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            workspaces: BTreeMap::new(),
            python: "python3".to_owned(),
            start_timeout_ms: 30_000,
            max_running: None,
            transport: None,
            protocol: None,
            launcher: None,
            capabilities: None,
            limits: Limits::default(),
            isolation: Isolation::default(),
            prewarm: 0,
            request_log: None,
            tracing: false,
        }
    }
}

/// Request limits; set on the bridge, overridable per workspace.
///
/// # Default
///
/// - `max_concurrent`: 20 requests in flight per workspace
/// - `max_queue`: 200 requests waiting per workspace
/// - `timeout_ms`: 30000
/// - `max_retries`: 3 (only requests that never reached the server)
/// - `max_message_bytes`: 16777216 (16 MiB)
/// - `health_interval_ms`: 15000; `health_timeout_ms`: 5000; `max_health_failures`: 3
/// - `max_restarts`: 5 within `restart_window_ms`: 60000
/// - `log_lines`: 1000
/// - `idle_timeout_ms`, `max_memory_mb`: off
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Requests in flight at once, per workspace (at least 1).
    pub max_concurrent: Option<usize>,
    /// Requests waiting for a slot, per workspace.
    pub max_queue: Option<usize>,
    /// Default per-call timeout, in ms, queue wait included.
    pub timeout_ms: Option<u64>,
    /// Retries of a request that never reached the server.
    pub max_retries: Option<u32>,
    /// Largest request or response, in bytes.
    pub max_message_bytes: Option<usize>,
    /// Time between health checks, in ms.
    pub health_interval_ms: Option<u64>,
    /// How long one health check may take, in ms.
    pub health_timeout_ms: Option<u64>,
    /// Consecutive failed health checks that restart the process.
    pub max_health_failures: Option<u32>,
    /// Restarts allowed within `restart_window_ms` before the workspace fails.
    pub max_restarts: Option<usize>,
    /// The window of the restart intensity limit, in ms.
    pub restart_window_ms: Option<u64>,
    /// Output lines kept per workspace for `logs()`.
    pub log_lines: Option<usize>,
    /// Stop a workspace with no call for this long, in ms.
    pub idle_timeout_ms: Option<u64>,
    /// Restart a process whose resident memory exceeds this, in MiB.
    pub max_memory_mb: Option<u64>,
}

impl Limits {
    /// `self` where set, else `fallback`.
    fn or(&self, fallback: &Limits) -> Limits {
        Limits {
            max_concurrent: self.max_concurrent.or(fallback.max_concurrent),
            max_queue: self.max_queue.or(fallback.max_queue),
            timeout_ms: self.timeout_ms.or(fallback.timeout_ms),
            max_retries: self.max_retries.or(fallback.max_retries),
            max_message_bytes: self.max_message_bytes.or(fallback.max_message_bytes),
            health_interval_ms: self.health_interval_ms.or(fallback.health_interval_ms),
            health_timeout_ms: self.health_timeout_ms.or(fallback.health_timeout_ms),
            max_health_failures: self.max_health_failures.or(fallback.max_health_failures),
            max_restarts: self.max_restarts.or(fallback.max_restarts),
            restart_window_ms: self.restart_window_ms.or(fallback.restart_window_ms),
            log_lines: self.log_lines.or(fallback.log_lines),
            idle_timeout_ms: self.idle_timeout_ms.or(fallback.idle_timeout_ms),
            max_memory_mb: self.max_memory_mb.or(fallback.max_memory_mb),
        }
    }

    /// Every limit that must be positive is; errors name the option as JS
    /// spells it.
    fn validate(&self, wherein: &str) -> Result<()> {
        let positive = |name: &str, value: Option<u64>| match value {
            Some(0) => Err(Error::InvalidArgument(format!("{wherein}: {name} must be at least 1"))),
            _ => Ok(()),
        };
        positive("maxConcurrent", self.max_concurrent.map(|v| v as u64))?;
        positive("timeoutMs", self.timeout_ms)?;
        positive("maxMessageBytes", self.max_message_bytes.map(|v| v as u64))?;
        positive("healthIntervalMs", self.health_interval_ms)?;
        positive("healthTimeoutMs", self.health_timeout_ms)?;
        positive("maxHealthFailures", self.max_health_failures.map(u64::from))?;
        positive("restartWindowMs", self.restart_window_ms)?;
        positive("idleTimeoutMs", self.idle_timeout_ms)?;
        positive("maxMemoryMb", self.max_memory_mb)
    }
}

/// One workspace: a directory holding `workspace.json`, served by its own
/// hub process; or, with [`TransportKind::Stdio`], any MCP server command.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceSpec {
    /// The workspace directory; relative paths resolve against the current
    /// directory of the process. Empty for a workspace configured only
    /// inline (`mcp_servers`, `tools`): its hub then works in a private
    /// directory it removes on exit. Not used with `transport: "stdio"`.
    pub dir: PathBuf,
    /// With `transport: "stdio"`: the MCP server command to run.
    pub command: Option<String>,
    /// With `transport: "stdio"`: its arguments.
    pub args: Vec<String>,
    /// With `transport: "stdio"`: its working directory.
    pub cwd: Option<PathBuf>,
    /// Overrides [`BridgeConfig::python`] for this workspace.
    pub python: Option<String>,
    /// Extra environment variables of the workspace process.
    pub env: BTreeMap<String, String>,
    /// Names of the bridge process's environment variables passed on to
    /// the workspace process, besides `PATH` and `HOME`.
    pub inherit_env: Vec<String>,
    /// MCP servers the hub aggregates, in the Claude Desktop `mcpServers`
    /// shape; given inline instead of in `workspace.json`.
    pub mcp_servers: Option<serde_json::Value>,
    /// Python modules of local tools; given inline instead of in
    /// `workspace.json`.
    pub tools: Option<Vec<String>>,
    /// Overrides [`BridgeConfig::start_timeout_ms`] for this workspace.
    pub start_timeout_ms: Option<u64>,
    /// Overrides [`BridgeConfig::transport`] for this workspace.
    pub transport: Option<TransportKind>,
    /// Overrides [`BridgeConfig::protocol`] for this workspace.
    pub protocol: Option<Protocol>,
    /// Overrides [`BridgeConfig::launcher`] for this workspace (a hub one).
    pub launcher: Option<LauncherKind>,
    /// With `transport: "stdio"`: whether every MCP session of the
    /// workspace shares its one process, or each gets one of its own; see
    /// [`SessionMode`].
    pub session: Option<SessionMode>,
    /// Overrides the bridge's request limits for this workspace.
    pub limits: Limits,
    /// Overrides the bridge's isolation for this workspace, field by field.
    pub isolation: Isolation,
    /// Overrides [`BridgeConfig::tracing`] for this workspace.
    pub tracing: Option<bool>,
    /// A remote workspace: the URL of an MCP streamable HTTP endpoint
    /// someone else runs (`http://host:port/path`); the bridge runs no
    /// process for it ([`crate::launcher::remote`]).
    pub url: Option<String>,
    /// With `url`: headers sent with every request (e.g. `Authorization`).
    pub headers: BTreeMap<String, String>,
}

/// A remote workspace's endpoint, checked ([`WorkspaceSpec::validate`]).
#[derive(Debug, Clone)]
pub struct RemoteSpec {
    /// `http://host:port/path`.
    pub url: String,
    /// Sent with every request.
    pub headers: Vec<(String, String)>,
}

/// Headers the transport sets itself, which a remote workspace's `headers`
/// may not (MCP 2025-06-18, Basic / Transports / Streamable HTTP, and
/// HTTP's own).
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "accept-encoding",
    "content-type",
    "content-length",
    "content-encoding",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];
/// The prefix of the sessionless revision's `Mcp-Param-*` headers, which the
/// transport sets from a call's arguments.
const RESERVED_PREFIX: &str = "mcp-param-";

impl WorkspaceSpec {
    /// Checks one workspace's options: a non-empty id, positive limits, and
    /// `dir` for a hub workspace or `command` for a stdio one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the workspace and the option.
    pub fn validate(&self, id: &str) -> Result<()> {
        if id.is_empty() {
            return Err(Error::InvalidArgument("workspace id must not be empty".into()));
        }
        let wherein = format!("workspace {id:?}");
        if self.start_timeout_ms == Some(0) {
            return Err(Error::InvalidArgument(format!("{wherein}: startTimeoutMs must be at least 1")));
        }
        self.limits.validate(&wherein)?;
        if self.url.is_some() || !self.headers.is_empty() {
            return self.validate_remote(&wherein);
        }
        if self.mcp_servers.as_ref().is_some_and(|s| !s.is_object()) {
            return Err(Error::InvalidArgument(format!("{wherein}: mcpServers must be an object")));
        }
        if self.transport == Some(TransportKind::Stdio) {
            if self.launcher.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "{wherein}: launcher applies to hub workspaces; a stdio server is always spawned"
                )));
            }
            if self.command.as_deref().is_none_or(str::is_empty) {
                return Err(Error::InvalidArgument(format!(
                    "{wherein}: transport 'stdio' needs \"command\", a non-empty string"
                )));
            }
        } else if self.session.is_some() {
            return Err(Error::InvalidArgument(format!(
                "{wherein}: session applies to stdio workspaces; a hub serves one MCP session per client already"
            )));
        } else if self.dir.as_os_str().is_empty() && self.inline_config().is_none() {
            return Err(Error::InvalidArgument(format!(
                "{wherein}: a hub workspace needs \"dir\", or its configuration inline (\"mcpServers\" or \"tools\")"
            )));
        }
        Ok(())
    }

    /// Checks a remote workspace: an `http://` URL with a host, headers
    /// that are valid and not the transport's own, and none of the options
    /// of a process the bridge runs.
    fn validate_remote(&self, wherein: &str) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidArgument(format!("{wherein}: {message}")));
        let Some(url) = &self.url else {
            return invalid("headers applies to remote workspaces (with \"url\")".into());
        };
        match url.parse::<hyper::Uri>() {
            Ok(uri) if uri.authority().is_some_and(|a| a.as_str().contains('@')) => {
                return invalid(format!(
                    "url {:?}: credentials in the URL are not sent; give them in \"headers\" (e.g. authorization)",
                    url.split('@').next_back().unwrap_or_default()
                ))
            }
            Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some_and(|h| !h.is_empty()) => {}
            Ok(uri) if uri.scheme_str() == Some("https") => {
                return invalid(format!(
                    "url {url:?}: https is not supported yet; reach the endpoint over http (e.g. through a TLS-terminating proxy or a service mesh)"
                ))
            }
            _ => return invalid(format!("url must be an http:// URL with a host, e.g. \"http://10.0.0.5:8000/mcp\", got {url:?}")),
        }
        let local = [
            ("dir", !self.dir.as_os_str().is_empty()),
            ("command", self.command.is_some()),
            ("args", !self.args.is_empty()),
            ("cwd", self.cwd.is_some()),
            ("maxMemoryMb", self.limits.max_memory_mb.is_some()),
            ("mcpServers", self.mcp_servers.is_some()),
            ("tools", self.tools.is_some()),
            ("python", self.python.is_some()),
            ("launcher", self.launcher.is_some()),
            ("session", self.session.is_some()),
            ("env", !self.env.is_empty()),
            ("inheritEnv", !self.inherit_env.is_empty()),
            ("isolation", self.isolation != Isolation::default()),
            ("tracing", self.tracing.is_some()),
            ("transport", self.transport.is_some_and(|t| t != TransportKind::Http)),
        ];
        if let Some((name, _)) = local.iter().find(|(_, given)| *given) {
            return invalid(format!("{name} applies to workspaces the bridge runs; a remote workspace (\"url\") takes none"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (name, value) in &self.headers {
            if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return invalid(format!("headers: {name:?} is not a valid header name"));
            }
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with(RESERVED_PREFIX) {
                return invalid(format!("headers: {name:?} is set by the transport itself"));
            }
            if !seen.insert(lower) {
                return invalid(format!("headers: {name:?} is given twice (names are case-insensitive)"));
            }
            if hyper::header::HeaderValue::from_str(value).is_err() {
                return invalid(format!("headers: the value of {name:?} is not a valid header value"));
            }
        }
        Ok(())
    }

    /// How this workspace is reached, given the bridge's `transport`: a
    /// remote workspace over HTTP whatever the bridge's.
    pub(crate) fn transport_in(&self, bridge: Option<TransportKind>) -> TransportKind {
        if self.url.is_some() {
            return TransportKind::Http;
        }
        self.transport.or(bridge).unwrap_or_default()
    }

    /// The remote endpoint of a remote workspace.
    pub(crate) fn remote(&self) -> Option<RemoteSpec> {
        self.url.as_ref().map(|url| RemoteSpec {
            url: url.clone(),
            headers: self.headers.iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
        })
    }

    /// The hub configuration given inline, as `workspace.json` would hold it.
    fn inline_config(&self) -> Option<String> {
        if self.mcp_servers.is_none() && self.tools.is_none() {
            return None;
        }
        let mut config = serde_json::Map::new();
        if let Some(servers) = &self.mcp_servers {
            config.insert("mcpServers".into(), servers.clone());
        }
        if let Some(tools) = &self.tools {
            config.insert("tools".into(), serde_json::json!(tools));
        }
        Some(serde_json::Value::Object(config).to_string())
    }
}

impl BridgeConfig {
    /// Checks the bridge's options and every workspace's.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the option (and the workspace).
    pub fn validate(&self) -> Result<()> {
        if self.max_running == Some(0) {
            return Err(Error::InvalidArgument("Bridge options: maxRunning must be at least 1".into()));
        }
        if self.start_timeout_ms == 0 {
            return Err(Error::InvalidArgument("Bridge options: startTimeoutMs must be at least 1".into()));
        }
        if self.capabilities.as_ref().is_some_and(|c| !c.is_object()) {
            return Err(Error::InvalidArgument("Bridge options: capabilities must be an object".into()));
        }
        self.limits.validate("Bridge options")?;
        self.isolation.validate("Bridge options", None)?;
        self.workspaces.iter().try_for_each(|(id, spec)| {
            spec.validate(id)?;
            self.validate_isolation(id, spec)
        })
    }

    /// Checks a workspace's isolation, the bridge's overridden by its own,
    /// against its transport.
    pub(crate) fn validate_isolation(&self, id: &str, spec: &WorkspaceSpec) -> Result<()> {
        let transport = spec.transport_in(self.transport);
        spec.isolation.or(&self.isolation).validate(&format!("workspace {id:?}"), Some(transport))
    }
}

/// How the core reaches a workspace process: MCP streamable HTTP over TCP
/// loopback (`"http"`) or over a Unix domain socket (`"unix"`) in a private
/// directory (mode 0700) that the core creates and removes, or stdio.
///
/// # Default
///
/// `"http"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportKind {
    /// Streamable HTTP on 127.0.0.1 with an OS-assigned port.
    #[default]
    Http,
    /// Streamable HTTP on a Unix domain socket.
    Unix,
    /// Newline-delimited JSON-RPC over the stdin and stdout of any MCP
    /// server command (MCP 2025-06-18, Basic / Transports / stdio).
    Stdio,
}

/// A value that is none of an option's names; its message lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    expected: &'static str,
    got: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "must be {}, got {:?}", self.expected, self.got)
    }
}

impl std::error::Error for UnknownName {}

impl UnknownName {
    /// `got`, which is none of `expected` (worded for the message: "'a' or 'b'").
    pub(crate) fn new(expected: &'static str, got: &str) -> Self {
        UnknownName { expected, got: got.to_owned() }
    }
}

impl FromStr for TransportKind {
    type Err = UnknownName;

    /// `"http"`, `"unix"` or `"stdio"`.
    fn from_str(text: &str) -> std::result::Result<Self, UnknownName> {
        match text {
            "http" => Ok(TransportKind::Http),
            "unix" => Ok(TransportKind::Unix),
            "stdio" => Ok(TransportKind::Stdio),
            _ => Err(UnknownName { expected: "'http', 'unix' or 'stdio'", got: text.to_owned() }),
        }
    }
}

/// How a hub workspace's process comes to exist.
///
/// # Default
///
/// `"fork"` on Linux, `"spawn"` elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LauncherKind {
    /// A new interpreter per workspace (`python -m fastmcp_workspace`): it
    /// imports the hub's modules itself (about a second) and holds its own
    /// copy of them; shares nothing with other workspaces.
    Spawn,
    /// Forked from a fork server of the workspace's interpreter that has
    /// imported the hub's modules already (Linux; see
    /// [`crate::launcher::fork`]): starts in tens of ms and shares those
    /// modules' memory, and the fork server's `hash()` seed and memory
    /// layout, with the other forked workspaces.
    Fork,
}

impl Default for LauncherKind {
    fn default() -> Self {
        if cfg!(target_os = "linux") {
            LauncherKind::Fork
        } else {
            LauncherKind::Spawn
        }
    }
}

impl FromStr for LauncherKind {
    type Err = UnknownName;

    /// `"spawn"` or `"fork"`.
    fn from_str(text: &str) -> std::result::Result<Self, UnknownName> {
        match text {
            "spawn" => Ok(LauncherKind::Spawn),
            "fork" => Ok(LauncherKind::Fork),
            _ => Err(UnknownName { expected: "'spawn' or 'fork'", got: text.to_owned() }),
        }
    }
}

/// How the MCP sessions of a stdio workspace (the bridge's own and each
/// `bridge.session()`, so each client of the Express endpoint) map to
/// processes.
///
/// # Default
///
/// `"shared"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionMode {
    /// One process, whose one MCP session every session shares: a server
    /// request goes to the one session with calls in flight when there is
    /// exactly one, else to the bridge's handler.
    #[default]
    Shared,
    /// A process of its own for each `bridge.session()`, started with it
    /// (its client's identity in `initialize`) and stopped when it closes;
    /// counted against `maxRunning`. The bridge's own calls keep the
    /// shared process.
    PerClient,
}

impl FromStr for SessionMode {
    type Err = UnknownName;

    /// `"shared"` or `"per-client"`.
    fn from_str(text: &str) -> std::result::Result<Self, UnknownName> {
        match text {
            "shared" => Ok(SessionMode::Shared),
            "per-client" => Ok(SessionMode::PerClient),
            _ => Err(UnknownName { expected: "'shared' or 'per-client'", got: text.to_owned() }),
        }
    }
}

/// Which MCP revision a workspace's sessions speak.
///
/// # Default
///
/// `"stateful"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// The `initialize` handshake (MCP 2025-11-25, accepting 2025-06-18 and
    /// 2025-03-26 from the server): one MCP session per [`Session`](crate::session),
    /// with server requests during a call, the `GET` stream for server
    /// notifications and a session-wide logging level.
    #[default]
    Stateful,
    /// The sessionless 2026-07-28 revision: `server/discover` instead of
    /// `initialize`, then self-contained requests (MCP 2026-07-28, Basic /
    /// Lifecycle). A server that does not offer 2026-07-28 fails the
    /// workspace's start (`START_FAILED`).
    Sessionless,
    /// `server/discover` first; the sessionless revision when the server
    /// offers it, else the `initialize` handshake (as the MCP Python SDK's
    /// `mode="auto"`).
    Auto,
}

impl FromStr for Protocol {
    type Err = UnknownName;

    /// `"stateful"`, `"sessionless"` or `"auto"`.
    fn from_str(text: &str) -> std::result::Result<Self, UnknownName> {
        match text {
            "stateful" => Ok(Protocol::Stateful),
            "sessionless" => Ok(Protocol::Sessionless),
            "auto" => Ok(Protocol::Auto),
            _ => Err(UnknownName { expected: "'stateful', 'sessionless' or 'auto'", got: text.to_owned() }),
        }
    }
}

/// A workspace's resolved request limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedLimits {
    pub max_concurrent: usize,
    pub max_queue: usize,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_message_bytes: usize,
    pub health_interval: Duration,
    pub health_timeout: Duration,
    pub max_health_failures: u32,
    pub max_restarts: usize,
    pub restart_window: Duration,
    pub log_lines: usize,
    pub idle_timeout: Option<Duration>,
    pub max_memory_bytes: Option<u64>,
}

impl ResolvedLimits {
    pub(crate) fn new(config: &BridgeConfig, spec: &WorkspaceSpec) -> Self {
        let limits = spec.limits.or(&config.limits);
        ResolvedLimits {
            max_concurrent: limits.max_concurrent.unwrap_or(20),
            max_queue: limits.max_queue.unwrap_or(200),
            timeout: Duration::from_millis(limits.timeout_ms.unwrap_or(30_000)),
            max_retries: limits.max_retries.unwrap_or(3),
            max_message_bytes: limits.max_message_bytes.unwrap_or(16 * 1024 * 1024),
            health_interval: Duration::from_millis(limits.health_interval_ms.unwrap_or(15_000)),
            health_timeout: Duration::from_millis(limits.health_timeout_ms.unwrap_or(5_000)),
            max_health_failures: limits.max_health_failures.unwrap_or(3),
            max_restarts: limits.max_restarts.unwrap_or(5),
            restart_window: Duration::from_millis(limits.restart_window_ms.unwrap_or(60_000)),
            log_lines: limits.log_lines.unwrap_or(1000),
            idle_timeout: limits.idle_timeout_ms.map(Duration::from_millis),
            max_memory_bytes: limits.max_memory_mb.map(|mb| mb * 1024 * 1024),
        }
    }
}

/// The resolved settings one workspace's server is launched with: the
/// hub's interpreter and directory, or with the stdio transport the MCP
/// server command.
#[derive(Debug, Clone)]
pub(crate) struct LaunchSpec {
    pub python: String,
    pub dir: PathBuf,
    pub env: BTreeMap<String, String>,
    pub inherit_env: Vec<String>,
    pub start_timeout: Duration,
    /// The hub's `--config-json`, when the configuration is given inline.
    pub inline_config: Option<String>,
    pub transport: TransportKind,
    pub protocol: Protocol,
    /// How a hub workspace's process comes to exist (Linux: fork, unless
    /// set; elsewhere always spawn).
    pub launcher: LauncherKind,
    /// Where Unix sockets go (set by the bridge when a workspace uses them).
    pub socket_dir: Option<PathBuf>,
    /// The workspace's isolation, resolved (set by the bridge).
    pub confinement: Option<Confinement>,
    /// With stdio: the server command, its arguments and working directory.
    pub command: Option<String>,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// Whether the server is asked for traces ([`BridgeConfig::tracing`]).
    pub tracing: bool,
    /// The workspace's id (set by the bridge), which a traced hub names in
    /// its spans' resource.
    pub workspace: String,
    /// A remote workspace's endpoint: then nothing is launched.
    pub remote: Option<RemoteSpec>,
}

/// The variable that asks the hub for OpenTelemetry traces.
pub(crate) const TRACING_ENV: &str = "FASTMCP_WORKSPACE_TRACING";
/// The variable that tells a traced hub its workspace's id.
pub(crate) const WORKSPACE_ID_ENV: &str = "FASTMCP_WORKSPACE_ID";

/// Whether tracing passes the `OTEL_*` variable `name` of the bridge's
/// environment on to workspace processes: what configures where and how
/// spans are exported, the sampler, the batch processor and the limits
/// (OpenTelemetry specification, SDK Environment Variables); never
/// credentials (`…_HEADERS`, client keys, certificates) nor the app's
/// `OTEL_SERVICE_NAME`, which a workspace's `env` or `inheritEnv` passes
/// on explicitly.
fn otel_passed_on(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_PROPAGATORS",
        "OTEL_SDK_DISABLED",
    ];
    const PREFIXES: &[&str] = &["OTEL_BSP_", "OTEL_SPAN_", "OTEL_ATTRIBUTE_", "OTEL_LINK_", "OTEL_EVENT_"];
    const OTLP: &[&str] = &["ENDPOINT", "PROTOCOL", "TIMEOUT", "COMPRESSION", "INSECURE"];
    EXACT.contains(&name)
        || PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        || name
            .strip_prefix("OTEL_EXPORTER_OTLP_")
            .map(|rest| rest.strip_prefix("TRACES_").unwrap_or(rest))
            .is_some_and(|setting| OTLP.contains(&setting))
}

impl LaunchSpec {
    /// `PATH`, `HOME` and the `inheritEnv` variables, from this process's
    /// environment, where set; with tracing, also the `OTEL_*` variables
    /// that configure the export (see `otel_passed_on`),
    /// `FASTMCP_WORKSPACE_TRACING=1` and `FASTMCP_WORKSPACE_ID` (the
    /// workspace's `env` is applied after these, so it overrides them).
    pub(crate) fn inherited_env(&self) -> Vec<(String, std::ffi::OsString)> {
        let mut env: Vec<(String, std::ffi::OsString)> = ["PATH", "HOME"]
            .into_iter()
            .map(str::to_owned)
            .chain(self.inherit_env.iter().cloned())
            .filter_map(|name| std::env::var_os(&name).map(|value| (name, value)))
            .collect();
        if self.tracing {
            env.extend(std::env::vars_os().filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                otel_passed_on(&name).then_some((name, value))
            }));
            env.push((TRACING_ENV.to_owned(), "1".into()));
            env.push((WORKSPACE_ID_ENV.to_owned(), self.workspace.clone().into()));
        }
        env
    }

    /// The hub's `--dir DIR`, or nothing for a workspace configured only
    /// inline (the hub then makes a private directory).
    pub(crate) fn dir_args(&self) -> impl Iterator<Item = &std::ffi::OsStr> {
        let given = !self.dir.as_os_str().is_empty();
        given.then(|| [std::ffi::OsStr::new("--dir"), self.dir.as_os_str()]).into_iter().flatten()
    }

    pub(crate) fn new(config: &BridgeConfig, spec: &WorkspaceSpec) -> Self {
        LaunchSpec {
            python: spec.python.clone().unwrap_or_else(|| config.python.clone()),
            dir: spec.dir.clone(),
            env: spec.env.clone(),
            inherit_env: spec.inherit_env.clone(),
            start_timeout: Duration::from_millis(
                spec.start_timeout_ms.unwrap_or(config.start_timeout_ms),
            ),
            inline_config: spec.inline_config(),
            transport: spec.transport_in(config.transport),
            protocol: spec.protocol.or(config.protocol).unwrap_or_default(),
            // A sandboxed process is bwrap's child: bwrap must exec the interpreter.
            launcher: match spec.launcher.or(config.launcher).unwrap_or_default() {
                LauncherKind::Fork if cfg!(target_os = "linux") && spec.isolation.or(&config.isolation).sandbox.is_none() => {
                    LauncherKind::Fork
                }
                _ => LauncherKind::Spawn,
            },
            socket_dir: None,
            confinement: None,
            command: spec.command.clone(),
            args: spec.args.clone(),
            cwd: spec.cwd.clone(),
            tracing: spec.tracing.unwrap_or(config.tracing),
            workspace: String::new(),
            remote: spec.remote(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(dir: &str) -> WorkspaceSpec {
        WorkspaceSpec { dir: dir.into(), ..Default::default() }
    }

    fn with(workspaces: impl IntoIterator<Item = (&'static str, WorkspaceSpec)>) -> BridgeConfig {
        BridgeConfig {
            workspaces: workspaces.into_iter().map(|(id, spec)| (id.to_owned(), spec)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_apply_and_workspace_overrides_win() {
        let b = WorkspaceSpec { python: Some("py".into()), start_timeout_ms: Some(5), ..hub("/w/b") };
        let config = with([("a", hub("/w/a")), ("b", b)]);
        config.validate().unwrap();
        let a = LaunchSpec::new(&config, &config.workspaces["a"]);
        let b = LaunchSpec::new(&config, &config.workspaces["b"]);
        assert_eq!(a.python, "python3");
        assert_eq!(a.start_timeout, Duration::from_secs(30));
        assert_eq!(b.python, "py");
        assert_eq!(b.start_timeout, Duration::from_millis(5));
    }

    #[test]
    fn limits_default_and_workspace_values_win_over_bridge_values() {
        let b = WorkspaceSpec { limits: Limits { max_queue: Some(7), ..Default::default() }, ..hub("/b") };
        let mut config = with([("a", hub("/a")), ("b", b)]);
        config.limits = Limits { max_queue: Some(5), timeout_ms: Some(100), ..Default::default() };
        let a = ResolvedLimits::new(&config, &config.workspaces["a"]);
        let b = ResolvedLimits::new(&config, &config.workspaces["b"]);
        assert_eq!((a.max_concurrent, a.max_queue, a.timeout), (20, 5, Duration::from_millis(100)));
        assert_eq!(b.max_queue, 7);
        assert_eq!(a.max_message_bytes, 16 * 1024 * 1024);
    }

    #[test]
    fn zero_limits_are_rejected_with_their_name() {
        let mut bridge_wide = with([]);
        bridge_wide.limits.max_concurrent = Some(0);
        let per_workspace = with([("a", WorkspaceSpec {
            limits: Limits { timeout_ms: Some(0), ..Default::default() },
            ..hub("/a")
        })]);
        for (config, name) in [(bridge_wide, "Bridge options: maxConcurrent"), (per_workspace, "workspace \"a\": timeoutMs")] {
            let err = config.validate().unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(ref m) if m.starts_with(name)), "{err}");
        }
    }

    #[test]
    fn inline_servers_and_tools_become_the_hub_config() {
        let a = WorkspaceSpec {
            tools: Some(vec!["m".into()]),
            mcp_servers: Some(serde_json::json!({"t": {"command": "x"}})),
            ..hub("/a")
        };
        let config = with([("a", a), ("b", hub("/b"))]);
        let a = LaunchSpec::new(&config, &config.workspaces["a"]);
        let inline: serde_json::Value = serde_json::from_str(a.inline_config.as_deref().unwrap()).unwrap();
        assert_eq!(inline, serde_json::json!({"tools": ["m"], "mcpServers": {"t": {"command": "x"}}}));
        assert!(LaunchSpec::new(&config, &config.workspaces["b"]).inline_config.is_none());
    }

    #[test]
    fn tracing_passes_the_export_settings_on_and_no_credentials() {
        for (name, passed) in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", true),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", true),
            ("OTEL_BSP_SCHEDULE_DELAY", true),
            ("OTEL_TRACES_SAMPLER", true),
            ("OTEL_EXPORTER_OTLP_HEADERS", false),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", false),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", false),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", false),
            ("OTEL_SERVICE_NAME", false),
            ("OTEL_LOGS_EXPORTER", false),
        ] {
            assert_eq!(otel_passed_on(name), passed, "{name}");
        }
        // The only test that sets OTEL_ variables of this process; they are
        // removed before it asserts.
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        std::env::set_var("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret");
        let config = BridgeConfig { tracing: true, ..with([("a", hub("/a")), ("b", WorkspaceSpec { tracing: Some(false), ..hub("/b") })]) };
        let env = |id: &str| -> Vec<(String, String)> {
            let mut spec = LaunchSpec::new(&config, &config.workspaces[id]);
            spec.workspace = id.to_owned();
            spec.inherited_env().into_iter().map(|(name, value)| (name, value.to_string_lossy().into_owned())).collect()
        };
        let (a, b) = (env("a"), env("b"));
        std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT");
        std::env::remove_var("OTEL_EXPORTER_OTLP_HEADERS");
        let has = |env: &[(String, String)], name: &str, value: &str| env.iter().any(|(n, v)| n == name && v == value);
        assert!(has(&a, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), "{a:?}");
        assert!(has(&a, TRACING_ENV, "1") && has(&a, WORKSPACE_ID_ENV, "a"), "{a:?}");
        assert!(!a.iter().any(|(name, _)| name == "OTEL_EXPORTER_OTLP_HEADERS"), "{a:?}");
        assert!(!b.iter().any(|(name, _)| name.starts_with("OTEL_") || name == TRACING_ENV), "{b:?}");
    }

    #[test]
    fn a_remote_workspace_is_an_http_url_with_headers_and_nothing_to_run() {
        let remote = |url: &str| WorkspaceSpec { url: Some(url.into()), ..Default::default() };
        remote("http://10.0.0.5:8000/mcp").validate("r").unwrap();
        let with_headers = WorkspaceSpec {
            headers: [("Authorization".to_owned(), "Bearer t".to_owned())].into(),
            ..remote("http://svc.tenant.svc.cluster.local/mcp")
        };
        with_headers.validate("r").unwrap();
        assert_eq!(with_headers.remote().unwrap().headers, [("Authorization".to_owned(), "Bearer t".to_owned())]);
        for (spec, says) in [
            (remote("https://example.com/mcp"), "https is not supported"),
            (remote("ftp://example.com/mcp"), "http:// URL"),
            (remote("/mcp"), "http:// URL"),
            (WorkspaceSpec { dir: "/w".into(), ..remote("http://h/mcp") }, "dir applies"),
            (WorkspaceSpec { transport: Some(TransportKind::Stdio), ..remote("http://h/mcp") }, "transport applies"),
            (WorkspaceSpec { headers: [("Mcp-Session-Id".to_owned(), "x".to_owned())].into(), ..remote("http://h/mcp") }, "set by the transport"),
            (WorkspaceSpec { headers: [("bad name".to_owned(), "x".to_owned())].into(), ..remote("http://h/mcp") }, "not a valid header name"),
            (WorkspaceSpec { headers: [("Mcp-Param-Region".to_owned(), "x".to_owned())].into(), ..remote("http://h/mcp") }, "set by the transport"),
            (WorkspaceSpec { headers: [("Accept-Encoding".to_owned(), "gzip".to_owned())].into(), ..remote("http://h/mcp") }, "set by the transport"),
            (WorkspaceSpec { headers: [("X-A".to_owned(), "1".to_owned()), ("x-a".to_owned(), "2".to_owned())].into(), ..remote("http://h/mcp") }, "given twice"),
            (remote("http://user:token@h/mcp"), "credentials in the URL"),
            (WorkspaceSpec { headers: [("X-A".to_owned(), "a\nb".to_owned())].into(), ..remote("http://h/mcp") }, "not a valid header value"),
            (WorkspaceSpec { headers: [("X-A".to_owned(), "a".to_owned())].into(), ..hub("/w") }, "with \"url\""),
        ] {
            let err = spec.validate("r").unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(ref m) if m.contains(says)), "{says}: {err}");
        }
    }

    #[test]
    fn a_hub_workspace_needs_a_dir_and_a_stdio_one_a_command() {
        let err = with([("a", hub(""))]).validate().unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(ref m) if m.contains("\"dir\"")), "{err}");
        let stdio = WorkspaceSpec { transport: Some(TransportKind::Stdio), ..Default::default() };
        let err = stdio.validate("s").unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(ref m) if m.contains("\"command\"")), "{err}");
        let stdio = WorkspaceSpec { command: Some("server".into()), ..stdio };
        stdio.validate("s").unwrap();
    }

    #[test]
    fn names_parse_and_unknown_ones_list_the_choices() {
        assert_eq!("unix".parse::<TransportKind>(), Ok(TransportKind::Unix));
        assert_eq!("auto".parse::<Protocol>(), Ok(Protocol::Auto));
        let err = "sessionfull".parse::<Protocol>().unwrap_err();
        assert_eq!(err.to_string(), "must be 'stateful', 'sessionless' or 'auto', got \"sessionfull\"");
    }
}
