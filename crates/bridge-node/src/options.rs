//! The options a JS user passes: the one schema of the package's options.
//!
//! Each is an `#[napi(object)]` struct: napi-rs generates its TypeScript
//! interface (in `native.d.ts`, with these `///` docs) and converts a JS
//! object into it, refusing a value of the wrong type with the struct and
//! field in the message (`… on WorkspaceOptions.env`). The [`options`]
//! macro that declares them also lists their keys, so an unknown key is
//! refused by name (a misspelt option would otherwise be ignored).
//! [`bridge_config`] and [`workspace_spec`] then turn them into the core's
//! `BridgeConfig` and `WorkspaceSpec`, whose `validate` checks the values
//! (positive limits, `dir` or `command`); this module only checks what
//! JS's types cannot say (a number that must be a whole one, a name out of
//! a few).
//!
//! Field names are the JS ones (camelCase): the key lists come from them.
//! Numbers are `f64`, JS's number, so that `1.5` and `-1` are refused
//! rather than truncated or wrapped by the conversion.

// The fields are named as JS names them; so are the variables napi-rs
// generates for them.
#![allow(non_snake_case)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use bridge_core::request_log::RequestLogConfig;
use bridge_core::{BridgeConfig, Isolation, Limits, User, WorkspaceSpec};
use napi::bindgen_prelude::{FromNapiValue, Object, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;

/// Declares an options struct (`#[napi(object)]`, JS field names) with
/// `KEYS`, the names of its fields, all optional; `limits` appends the
/// request limits that the bridge sets and each workspace overrides.
macro_rules! options {
    (
        $(#[$($meta:tt)*])*
        pub struct $name:ident { $( $(#[$($field_meta:tt)*])* $field:ident : Option<$ty:ty>, )* }
    ) => {
        // `Option` is spelt out for napi-rs, which reads it as "optional"
        // only from the tokens `Option<…>`, not from a `$ty` fragment.
        $(#[$($meta)*])*
        #[napi(object)]
        pub struct $name { $( $(#[$($field_meta)*])* pub $field: Option<$ty>, )* }

        impl $name {
            /// The option names, as JS spells them.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];
        }
    };
    (
        $(#[$($meta:tt)*])*
        pub struct $name:ident { $($fields:tt)* } limits
    ) => {
        options! {
            $(#[$($meta)*])*
            pub struct $name {
                $($fields)*
                /// Requests in flight at once, per workspace (at least 1). Default: 20.
                maxConcurrent: Option<f64>,
                /// Requests waiting for a slot, per workspace; one more is refused with
                /// `QUEUE_FULL`. Default: 200.
                maxQueue: Option<f64>,
                /// Default per-call timeout in ms, queue wait included. Default: 30000.
                timeoutMs: Option<f64>,
                /// Retries of a request that never reached the server (connection
                /// refused, process restarting). Default: 3.
                maxRetries: Option<f64>,
                /// Largest request or response, in bytes; a larger one fails with
                /// `PAYLOAD_TOO_LARGE`. Default: 16777216 (16 MiB).
                maxMessageBytes: Option<f64>,
                /// Time between health checks (the hub's `GET /health`; MCP `ping`
                /// over stdio) and resource samples, in ms. Default: 15000.
                healthIntervalMs: Option<f64>,
                /// How long one health check may take, in ms. Default: 5000.
                healthTimeoutMs: Option<f64>,
                /// Consecutive failed health checks that restart the process. Default: 3.
                maxHealthFailures: Option<f64>,
                /// Restarts allowed within `restartWindowMs` before the workspace is
                /// `failed`. Default: 5.
                maxRestarts: Option<f64>,
                /// The window of the restart intensity limit, in ms. Default: 60000.
                restartWindowMs: Option<f64>,
                /// Output lines of the process kept for `logs()`. Default: 1000.
                logLines: Option<f64>,
                /// Stop the process after this long without a call, in ms; the next
                /// call starts it again. Default: off.
                idleTimeoutMs: Option<f64>,
                /// Restart a process whose resident memory exceeds this, in MiB (as
                /// PM2's `max_memory_restart`). Default: off.
                maxMemoryMb: Option<f64>,
            }
        }

        impl $name {
            /// The request limits given, checked to be whole numbers.
            fn limits(&self, wherein: &str) -> napi::Result<Limits> {
                Ok(Limits {
                    max_concurrent: whole!(self, maxConcurrent, wherein),
                    max_queue: whole!(self, maxQueue, wherein),
                    timeout_ms: whole!(self, timeoutMs, wherein),
                    max_retries: whole!(self, maxRetries, wherein),
                    max_message_bytes: whole!(self, maxMessageBytes, wherein),
                    health_interval_ms: whole!(self, healthIntervalMs, wherein),
                    health_timeout_ms: whole!(self, healthTimeoutMs, wherein),
                    max_health_failures: whole!(self, maxHealthFailures, wherein),
                    max_restarts: whole!(self, maxRestarts, wherein),
                    restart_window_ms: whole!(self, restartWindowMs, wherein),
                    log_lines: whole!(self, logLines, wherein),
                    idle_timeout_ms: whole!(self, idleTimeoutMs, wherein),
                    max_memory_mb: whole!(self, maxMemoryMb, wherein),
                })
            }
        }
    };
}

/// The field `$field` of `$options` as a whole number of the target type.
macro_rules! whole {
    ($options:expr, $field:ident, $wherein:expr) => {
        whole($options.$field, stringify!($field), $wherein)?
    };
}

options! {
    /// OS isolation of a workspace's process (Linux), applied before any of
    /// its code runs: in a spawned process before `exec`, in a forked one
    /// before the hub starts. Set on the bridge, each workspace's fields
    /// override the bridge's one by one. A process that one of these limits
    /// ends fails its calls with `WORKSPACE_CRASHED` whose `data.reason` is
    /// `'memory_limit'`, `'pids_limit'` or `'cpu_limit'`, and is restarted
    /// as after any crash. Default: none of it.
    pub struct IsolationOptions {
        /// Run as this uid (not 0), or `'auto'`: a uid of its own per
        /// workspace, `uidBase` and up in the order workspaces are made.
        /// Needs the bridge to run as root. Before each start the workspace
        /// directory (and all in it) is given to that user, mode 0700, and
        /// `HOME` and the working directory are that directory. The
        /// interpreter and its packages must be readable by the user.
        #[napi(ts_type = "number | 'auto'")]
        user: Option<serde_json::Value>,
        /// Run with this gid. Default: the uid's number.
        group: Option<f64>,
        /// First uid of `user: 'auto'`; give each bridge of a machine its
        /// own range. Default: 200000.
        uidBase: Option<f64>,
        /// `RLIMIT_AS`: the process's virtual address space, in MiB; an
        /// allocation beyond it fails (`MemoryError` in Python). A hub maps
        /// about 1 GiB of address space; give it room.
        addressSpaceMb: Option<f64>,
        /// `RLIMIT_NOFILE`: open file descriptors of the process.
        openFiles: Option<f64>,
        /// `RLIMIT_NPROC`: processes and threads of the user (needs `user`);
        /// a `fork` beyond it fails.
        processes: Option<f64>,
        /// `RLIMIT_CPU`: CPU time of the process, in s; past it the process
        /// ends (`SIGXCPU`, `'cpu_limit'`).
        cpuSeconds: Option<f64>,
        /// Control group memory limit of all the workspace's processes, in
        /// MiB, no swap; past it the kernel's OOM killer ends one
        /// (`'memory_limit'`).
        memoryMb: Option<f64>,
        /// Control group limit of the workspace's processes and threads; a
        /// `fork` beyond it fails (`EAGAIN`; `'pids_limit'` if the process
        /// then ends).
        pids: Option<f64>,
        /// Control group CPU bandwidth of the workspace, in percent of one
        /// core (200: two cores); beyond it the workspace is throttled.
        cpuPercent: Option<f64>,
        /// The network the process may use: `'host'` (the machine's),
        /// `'loopback'` (a network namespace of its own with only a
        /// loopback interface: its processes reach each other, nothing
        /// else) or `'none'` (no interface up). Other than `'host'` needs
        /// `transport: 'unix'` or `'stdio'`. Default: `'host'`.
        #[napi(ts_type = "'host' | 'loopback' | 'none'")]
        network: Option<String>,
        /// `'bubblewrap'`: the process runs in a bwrap sandbox (the system's
        /// `bubblewrap` package): the file system read-only but for the
        /// workspace directory (and its Unix socket's), private `/tmp` and
        /// `/var/tmp`, `/dev` and `/proc` of its own. A sandboxed hub
        /// workspace is always spawned. Default: none.
        #[napi(ts_type = "'bubblewrap'")]
        sandbox: Option<String>,
    }
}

impl IsolationOptions {
    fn to_isolation(&self, wherein: &str) -> napi::Result<Isolation> {
        let wherein = &format!("{wherein}: isolation");
        let user = match &self.user {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(text)) if text == "auto" => Some(User::Auto),
            Some(value) => match whole::<u32>(value.as_f64(), "user", wherein) {
                Ok(Some(uid)) => Some(User::Id(uid)),
                _ => {
                    return Err(invalid(format!(
                        "{wherein}: user must be a uid (a whole number) or 'auto', got {value}"
                    )))
                }
            },
        };
        Ok(Isolation {
            user,
            group: whole!(self, group, wherein),
            uid_base: whole!(self, uidBase, wherein),
            address_space_mb: whole!(self, addressSpaceMb, wherein),
            open_files: whole!(self, openFiles, wherein),
            processes: whole!(self, processes, wherein),
            cpu_seconds: whole!(self, cpuSeconds, wherein),
            memory_mb: whole!(self, memoryMb, wherein),
            pids: whole!(self, pids, wherein),
            cpu_percent: whole!(self, cpuPercent, wherein),
            network: name(self.network.as_deref(), "network", wherein)?,
            sandbox: name(self.sandbox.as_deref(), "sandbox", wherein)?,
        })
    }
}

/// The isolation of `options`, default when absent.
fn isolation(options: Option<&IsolationOptions>, wherein: &str) -> napi::Result<Isolation> {
    options.map(|o| o.to_isolation(wherein)).transpose().map(Option::unwrap_or_default)
}

/// Refuses an unknown key of `object`'s `isolation`, if it has one.
fn known_isolation_keys(object: &Object, wherein: &str) -> napi::Result<()> {
    match object.get::<Object>("isolation") {
        Ok(Some(isolation)) => known_keys(&isolation, IsolationOptions::KEYS, &format!("{wherein}: isolation")),
        _ => Ok(()),
    }
}

options! {
    /// Options of a `Bridge`. Every field is optional; the request limits
    /// apply to every workspace unless the workspace sets its own.
    pub struct BridgeOptions {
        /// Workspaces by id (1-64 characters of `A-Z a-z 0-9 _ -`, starting
        /// with a letter or digit). Default: none; see `addWorkspace`.
        workspaces: Option<HashMap<String, WorkspaceOptions>>,
        /// Python interpreter with the `fastmcp_workspace` hub installed.
        /// Default: `defaultPython()`.
        python: Option<String>,
        /// How long a workspace process may take to report ready, in ms.
        /// Default: 30000.
        startTimeoutMs: Option<f64>,
        /// Client capabilities every workspace's default MCP session
        /// declares in `initialize` (e.g. `{ sampling: {}, elicitation: {} }`).
        /// Default: `{}`.
        #[napi(ts_type = "Record<string, unknown>")]
        capabilities: Option<serde_json::Value>,
        /// How every workspace is reached: streamable HTTP over TCP loopback
        /// (`'http'`) or a Unix domain socket (`'unix'`), or `'stdio'`.
        /// Default: `'http'`.
        #[napi(ts_type = "'http' | 'unix' | 'stdio'")]
        transport: Option<String>,
        /// Which MCP revision every workspace's sessions speak: `'stateful'`
        /// (the `initialize` handshake), `'sessionless'` (MCP 2026-07-28,
        /// `server/discover`) or `'auto'` (sessionless when the server offers
        /// it). Default: `'stateful'`.
        #[napi(ts_type = "'stateful' | 'sessionless' | 'auto'")]
        protocol: Option<String>,
        /// At most this many workspace processes run at once; starting one
        /// more stops the least recently used idle one. Default: no limit.
        maxRunning: Option<f64>,
        /// How every hub workspace's process comes to exist: `'fork'`, forked
        /// from a fork server of its interpreter that has imported the hub
        /// already (tens of ms, and the imported modules' memory shared), or
        /// `'spawn'`, a new interpreter (about a second; shares nothing,
        /// not even the `hash()` seed and memory layout). Stdio servers are
        /// always spawned. Default: `'fork'` on Linux, else `'spawn'`.
        #[napi(ts_type = "'spawn' | 'fork'")]
        launcher: Option<String>,
        /// OS isolation of every workspace's process. Default: none.
        isolation: Option<IsolationOptions>,
        /// Children each fork server keeps forked ahead (the warm pool),
        /// filled again once no start came for 100 ms: a forked workspace's
        /// start then skips the fork itself (about 1 ms of 35 in
        /// BENCHMARKS.md). Each idle pooled child holds 1-2 MiB of its own
        /// (USS). Default: 0.
        prewarm: Option<f64>,
        /// Records every call in SQLite (`bridge.requests()`). Default: off.
        requestLog: Option<RequestLogOptions>,
        /// Asks every workspace's server for OpenTelemetry traces: its
        /// process gets this process's `OTEL_*` environment variables and
        /// `FASTMCP_WORKSPACE_TRACING=1`, on which the hub installs the
        /// OpenTelemetry SDK with an OTLP/HTTP exporter (configured by those
        /// variables) and turns FastMCP's own spans on. The bridge's own
        /// spans need no option: they follow the app's OpenTelemetry SDK.
        /// See docs/tracing.md. Default: false.
        tracing: Option<bool>,
    } limits
}

/// The request log: every call the bridge makes (`bridge.call`,
/// sessions, the Express endpoint), recorded when it settles, in SQLite
/// (WAL). The call path never waits on the disk: entries wait in a bounded
/// queue (65,536; beyond it they are dropped and counted) that a writer
/// thread takes every 100 ms and writes in one transaction. A killed
/// process loses at most the entries of the last 100 ms, never the file.
#[napi(object)]
pub struct RequestLogOptions {
    /// The SQLite file, created when missing, or `':memory:'`. Required.
    pub path: String,
    /// The oldest rows beyond this many are deleted (checked at most
    /// once a second). Default: no limit.
    pub maxRows: Option<f64>,
    /// Rows older than this are deleted, in ms. Default: no limit.
    pub maxAgeMs: Option<f64>,
    /// Keep each call's params and result (or error), each cut to
    /// `maxBodyBytes`. Default: false.
    pub captureBodies: Option<bool>,
    /// Cap on a captured body, in bytes. Default: 4096.
    pub maxBodyBytes: Option<f64>,
    /// Names whose values a captured request body shows as
    /// `"[redacted]"`, at any depth of the params (e.g. `['password',
    /// 'token']`). Default: none.
    pub redact: Option<Vec<String>>,
}

impl RequestLogOptions {
    /// The option names, as JS spells them.
    pub const KEYS: &'static [&'static str] = &["path", "maxRows", "maxAgeMs", "captureBodies", "maxBodyBytes", "redact"];
}

options! {
    /// One workspace: a directory served by its own FastMCP hub process
    /// (`dir`), or with `transport: 'stdio'` any MCP server command
    /// (`command`). The request limits override the bridge's.
    pub struct WorkspaceOptions {
        /// The workspace directory (holding `workspace.json`, unless the
        /// configuration is given inline); relative to the current
        /// directory. Required unless `transport` is `'stdio'` or the
        /// configuration is inline (`mcpServers`, `tools`): the hub then
        /// works in a private directory that it removes on exit.
        dir: Option<String>,
        /// Overrides the bridge's `python` for this workspace.
        python: Option<String>,
        /// Extra environment variables of the process. The process gets
        /// only these, `PATH`, `HOME` and the `inheritEnv` ones.
        env: Option<HashMap<String, String>>,
        /// Names of this process's environment variables passed on to the
        /// workspace process. Default: none.
        inheritEnv: Option<Vec<String>>,
        /// Overrides the bridge's `startTimeoutMs`.
        startTimeoutMs: Option<f64>,
        /// MCP servers the hub aggregates, in the Claude Desktop
        /// `mcpServers` shape (`{ name: { command, args?, env?, cwd? } |
        /// { url, headers? } }`); given inline instead of in
        /// `workspace.json`.
        #[napi(ts_type = "Record<string, unknown>")]
        mcpServers: Option<serde_json::Value>,
        /// Python modules of local tools, imported by the hub; given inline
        /// instead of in `workspace.json`.
        tools: Option<Vec<String>>,
        /// Overrides the bridge's `transport`.
        #[napi(ts_type = "'http' | 'unix' | 'stdio'")]
        transport: Option<String>,
        /// Overrides the bridge's `protocol`.
        #[napi(ts_type = "'stateful' | 'sessionless' | 'auto'")]
        protocol: Option<String>,
        /// Overrides the bridge's `launcher` (hub workspaces only).
        #[napi(ts_type = "'spawn' | 'fork'")]
        launcher: Option<String>,
        /// With `transport: 'stdio'`: the MCP server command (required).
        command: Option<String>,
        /// With `transport: 'stdio'`: its arguments.
        args: Option<Vec<String>>,
        /// With `transport: 'stdio'`: its working directory. Default: the
        /// current directory.
        cwd: Option<String>,
        /// With `transport: 'stdio'`: `'shared'`, one process whose one MCP
        /// session every session of the workspace shares (a server request
        /// goes to the one session with calls in flight, else to
        /// `bridge.onRequest`), or `'per-client'`, a process of its own for
        /// each `bridge.session()` (so each client of the Express endpoint),
        /// started with it, stopped when it closes, counted against
        /// `maxRunning`. Default: `'shared'`.
        #[napi(ts_type = "'shared' | 'per-client'")]
        session: Option<String>,
        /// Overrides the bridge's `isolation`, field by field.
        isolation: Option<IsolationOptions>,
        /// Overrides the bridge's `tracing` for this workspace.
        tracing: Option<bool>,
        /// A remote workspace: the URL of an MCP streamable HTTP endpoint
        /// someone else runs (`http://host:port/path`; https is not
        /// supported yet). The bridge runs no process for it: `start`
        /// connects and initializes, health checks are MCP `ping`, `stop`
        /// ends its MCP sessions. It takes none of `dir`, `command`,
        /// `args`, `cwd`, `python`, `env`, `inheritEnv`, `mcpServers`,
        /// `tools`, `launcher`, `session`, `isolation`, `tracing` (the
        /// bridge's own spans still carry their context), `maxMemoryMb`.
        /// See docs/workspaces.md.
        url: Option<String>,
        /// With `url`: headers sent with every request (e.g.
        /// `{ authorization: 'Bearer …' }`); not the transport's own
        /// (`Mcp-Session-Id`, `Accept`, ...). Default: none.
        headers: Option<HashMap<String, String>>,
    } limits
}

/// `value` as a whole number of `T`, or an `INVALID_ARGUMENT` error naming
/// `name`. Ranges (at least 1, …) are the core's to check.
fn whole<T: TryFrom<u64>>(
    value: Option<f64>,
    name: &str,
    wherein: &str,
) -> napi::Result<Option<T>> {
    let Some(number) = value else { return Ok(None) };
    // 2^53: the largest integer a JS number holds exactly.
    let fits = number.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&number);
    match fits.then(|| T::try_from(number as u64).ok()).flatten() {
        Some(whole) => Ok(Some(whole)),
        None => Err(invalid(format!(
            "{wherein}: {name} must be a whole number >= 0, got {number}"
        ))),
    }
}

/// A name out of an option's few (`transport`, `protocol`).
fn name<T: FromStr<Err = bridge_core::UnknownName>>(
    value: Option<&str>,
    option: &str,
    wherein: &str,
) -> napi::Result<Option<T>> {
    value
        .map(|text| {
            text.parse()
                .map_err(|e| invalid(format!("{wherein}: {option} {e}")))
        })
        .transpose()
}

/// An error JS turns into `BridgeError('INVALID_ARGUMENT')`.
pub(crate) fn invalid(message: String) -> napi::Error {
    napi::Error::new(
        napi::Status::InvalidArg,
        format!("INVALID_ARGUMENT: {message}"),
    )
}

/// The core's refusal of a value, as [`invalid`].
pub(crate) fn refused(err: bridge_core::Error) -> napi::Error {
    match err {
        bridge_core::Error::InvalidArgument(message) => invalid(message),
        other => invalid(other.to_string()),
    }
}

/// Refuses a key of `object` that is not one of `keys`.
fn known_keys(object: &Object, keys: &[&str], wherein: &str) -> napi::Result<()> {
    match Object::keys(object)?
        .into_iter()
        .find(|key| !keys.contains(&key.as_str()))
    {
        Some(key) => Err(invalid(format!("{wherein}: unknown option {key:?}"))),
        None => Ok(()),
    }
}

/// `object` converted into `T`, the conversion's error (which names the
/// field) as `INVALID_ARGUMENT`.
fn convert<T: FromNapiValue>(env: &Env, object: &Object) -> napi::Result<T> {
    // SAFETY: both handles belong to the current call's scope.
    unsafe { T::from_napi_value(env.raw(), object.raw()) }.map_err(|e| invalid(e.reason.clone()))
}

/// A path made absolute against the current directory.
fn absolute(path: &str) -> PathBuf {
    std::path::absolute(Path::new(path)).unwrap_or_else(|_| PathBuf::from(path))
}

/// The core configuration of the JS bridge options `object`.
///
/// # Errors
///
/// `INVALID_ARGUMENT: …` naming the option: an unknown key, a value of the
/// wrong type, or one `BridgeConfig::validate` refuses.
pub(crate) fn bridge_config(env: &Env, object: &Object) -> napi::Result<BridgeConfig> {
    known_keys(object, BridgeOptions::KEYS, "Bridge options")?;
    known_isolation_keys(object, "Bridge options")?;
    if let Ok(Some(log)) = object.get::<Object>("requestLog") {
        known_keys(&log, RequestLogOptions::KEYS, "Bridge options: requestLog")?;
    }
    let workspaces = object.get::<Unknown>("workspaces")?;
    match workspaces.as_ref().map(Unknown::get_type).transpose()? {
        None | Some(ValueType::Undefined | ValueType::Object) => {}
        Some(_) => {
            return Err(invalid(
                "Bridge options: workspaces must be an object".into(),
            ))
        }
    }
    if let Some(workspaces) = object.get::<Object>("workspaces").ok().flatten() {
        for id in Object::keys(&workspaces)? {
            if let Ok(Some(spec)) = workspaces.get::<Object>(&id) {
                known_keys(&spec, WorkspaceOptions::KEYS, &format!("workspace {id:?}"))?;
                known_isolation_keys(&spec, &format!("workspace {id:?}"))?;
            }
        }
    }
    let options: BridgeOptions = convert(env, object)?;
    let wherein = "Bridge options";
    let defaults = BridgeConfig::default();
    let config = BridgeConfig {
        workspaces: options
            .workspaces
            .iter()
            .flatten()
            .map(|(id, spec)| Ok((id.clone(), spec.to_spec(id)?)))
            .collect::<napi::Result<_>>()?,
        python: options.python.clone().unwrap_or(defaults.python),
        start_timeout_ms: whole!(options, startTimeoutMs, wherein)
            .unwrap_or(defaults.start_timeout_ms),
        max_running: whole!(options, maxRunning, wherein),
        transport: name(options.transport.as_deref(), "transport", wherein)?,
        protocol: name(options.protocol.as_deref(), "protocol", wherein)?,
        launcher: name(options.launcher.as_deref(), "launcher", wherein)?,
        capabilities: options.capabilities.clone(),
        limits: options.limits(wherein)?,
        isolation: isolation(options.isolation.as_ref(), wherein)?,
        prewarm: whole!(options, prewarm, wherein).unwrap_or(defaults.prewarm),
        request_log: options.requestLog.as_ref().map(|log| request_log(log, wherein)).transpose()?,
        tracing: options.tracing.unwrap_or(defaults.tracing),
    };
    config.validate().map_err(refused)?;
    Ok(config)
}

/// The core spec of one workspace's JS options `object` (as an entry of
/// the bridge's `workspaces`).
///
/// # Errors
///
/// As [`bridge_config`].
pub(crate) fn workspace_spec(env: &Env, id: &str, object: &Object) -> napi::Result<WorkspaceSpec> {
    known_keys(object, WorkspaceOptions::KEYS, &format!("workspace {id:?}"))?;
    known_isolation_keys(object, &format!("workspace {id:?}"))?;
    let spec = convert::<WorkspaceOptions>(env, object)?.to_spec(id)?;
    spec.validate(id).map_err(refused)?;
    Ok(spec)
}

impl WorkspaceOptions {
    fn to_spec(&self, id: &str) -> napi::Result<WorkspaceSpec> {
        let wherein = &format!("workspace {id:?}");
        Ok(WorkspaceSpec {
            dir: self
                .dir
                .as_deref()
                .filter(|dir| !dir.is_empty())
                .map(absolute)
                .unwrap_or_default(),
            command: self.command.clone(),
            args: self.args.clone().unwrap_or_default(),
            cwd: self.cwd.as_deref().map(absolute),
            python: self.python.clone(),
            env: self.env.clone().unwrap_or_default().into_iter().collect(),
            inherit_env: self.inheritEnv.clone().unwrap_or_default(),
            mcp_servers: self.mcpServers.clone(),
            tools: self.tools.clone(),
            start_timeout_ms: whole!(self, startTimeoutMs, wherein),
            transport: name(self.transport.as_deref(), "transport", wherein)?,
            protocol: name(self.protocol.as_deref(), "protocol", wherein)?,
            launcher: name(self.launcher.as_deref(), "launcher", wherein)?,
            session: name(self.session.as_deref(), "session", wherein)?,
            limits: self.limits(wherein)?,
            isolation: isolation(self.isolation.as_ref(), wherein)?,
            tracing: self.tracing,
            url: self.url.clone(),
            headers: self.headers.clone().unwrap_or_default().into_iter().collect(),
        })
    }
}

options! {
    /// The options of one call that the native side reads (the JS
    /// `CallOptions` adds `signal`, `onProgress`, `onRequest` and `raw`).
    #[derive(Default)]
    pub struct NativeCallOptions {
        /// Queue priority: `'high'`, `'normal'` or `'low'`; a higher one is
        /// sent first when the workspace is at `maxConcurrent`. Default:
        /// `'normal'`.
        #[napi(ts_type = "'high' | 'normal' | 'low'")]
        priority: Option<String>,
        /// This call's timeout in ms, queue wait included. Default: the
        /// workspace's `timeoutMs`.
        timeoutMs: Option<f64>,
        /// Restart the timeout on each progress notification of the call
        /// (MCP 2025-06-18, Basic / Utilities / Progress). Default: false.
        resetTimeoutOnProgress: Option<bool>,
        /// Cap on the whole call in ms, however often progress resets the
        /// timeout. Default: none.
        maxTotalTimeoutMs: Option<f64>,
        /// The downstream principal, for the request log. Default: none.
        principal: Option<String>,
        /// The MCP session the call came on as the caller names it, for
        /// the request log. Default: none.
        mcpSession: Option<String>,
    }
}

/// The names of the call options the native side reads; JS refuses any
/// call option that is neither one of these nor one of its own.
#[napi]
pub fn native_call_option_keys() -> Vec<&'static str> {
    NativeCallOptions::KEYS.to_vec()
}

/// The core's request log options of the JS `requestLog`.
fn request_log(options: &RequestLogOptions, wherein: &str) -> napi::Result<RequestLogConfig> {
    let wherein = format!("{wherein}: requestLog");
    if options.path.is_empty() {
        return Err(invalid(format!("{wherein}: path must be a file path or ':memory:'")));
    }
    Ok(RequestLogConfig {
        path: options.path.clone(),
        max_rows: whole(options.maxRows, "maxRows", &wherein)?,
        max_age: whole(options.maxAgeMs, "maxAgeMs", &wherein)?.map(std::time::Duration::from_millis),
        capture_bodies: options.captureBodies.unwrap_or(false),
        max_body_bytes: whole::<u64>(options.maxBodyBytes, "maxBodyBytes", &wherein)?.unwrap_or(0) as usize,
        redact: options.redact.clone().unwrap_or_default(),
    })
}
