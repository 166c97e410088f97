//! [`LocalProcess`]: a workspace's server as a child process of this one.
//!
//! The hub (`python -m fastmcp_workspace --dir DIR --port 0`, or `--uds
//! PATH` for a Unix socket) prints exactly one JSON line on stdout once it
//! listens: `{"event":"ready","url":"http://127.0.0.1:<port>/mcp"}`. Every
//! other line it writes, on stdout or stderr, goes to the workspace's
//! [`LogBuffer`] and to `tracing`, so that a start failure can say why. With
//! the stdio transport the workspace's MCP server command is spawned instead
//! and is ready once spawned.
//!
//! The process runs in its own process group with an explicit environment
//! (`PATH`, `HOME`, the variables named in `inheritEnv`, and the
//! workspace's `env`). On Linux it gets SIGKILL when the thread that
//! spawned it dies (parent-death signal; tokio's worker threads live as
//! long as the runtime), and the hub also exits at once when its stdin
//! closes, so it does not outlive the bridge however the bridge ends. Its
//! own stdio children see their stdin close and exit too.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, Lines};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use super::{Endpoint, HttpEndpoint, Launched, Launcher};
use crate::config::{LaunchSpec, TransportKind};
use crate::isolation::{Confined, Prepared};
use crate::error::{Error, Result};
use crate::logs::LogBuffer;
use crate::process::{forward_lines, ChildProcess};
use crate::transport::connect::Connector;

/// Numbers the Unix sockets of one bridge process.
static SOCKETS: AtomicU64 = AtomicU64::new(0);

/// Python module the hub runs as.
pub const HUB_MODULE: &str = "fastmcp_workspace";
/// Stderr lines carried by a start failure.
const FAILURE_LINES: usize = 20;

/// The hub's ready line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReadyLine {
    /// Always `"ready"`.
    pub event: String,
    /// The MCP endpoint URL.
    pub url: String,
    /// The Unix socket the hub serves on, when it does (`--uds`).
    #[serde(default)]
    pub uds: Option<String>,
}

impl ReadyLine {
    /// Parses one stdout line; `None` for anything that is not a ready line.
    pub fn parse(line: &str) -> Option<ReadyLine> {
        serde_json::from_str::<ReadyLine>(line.trim())
            .ok()
            .filter(|r| r.event == "ready")
    }
}

/// Spawns a workspace's server as a child process: the hub, serving MCP
/// streamable HTTP on TCP loopback or a Unix socket, or, with the stdio
/// transport, the workspace's MCP server command.
pub struct LocalProcess {
    command: LaunchSpec,
}

impl LocalProcess {
    /// A launcher of `command`.
    pub(crate) fn new(command: LaunchSpec) -> Self {
        LocalProcess { command }
    }

    /// Spawns the hub and waits for its ready line, at most
    /// `start_timeout`.
    async fn spawn_hub(&self, workspace: &str, logs: &LogBuffer) -> Result<Launched> {
        let cmd = &self.command;
        let failed = start_failed(workspace);
        let prepared = prepare(cmd, workspace, hub_dir(cmd)).map_err(|reason| failed(reason, Vec::new()))?;
        let socket = socket_path(cmd).map_err(|reason| failed(reason, Vec::new()))?;
        let mut args: Vec<OsString> = vec!["-m".into(), HUB_MODULE.into()];
        args.extend(cmd.dir_args().map(OsStr::to_owned));
        match &socket {
            Some(socket) => args.extend(["--uds".into(), socket.path.clone().into_os_string()]),
            None => args.extend(["--port".into(), "0".into()]),
        };
        if let Some(json) = &cmd.inline_config {
            args.extend(["--config-json".into(), json.into()]);
        }
        let writable: Vec<&Path> = hub_dir(cmd).into_iter().chain(socket.as_ref().and_then(|s| s.own_dir.as_deref())).collect();
        let mut command = program(prepared.as_ref(), OsStr::new(&cmd.python), &args, &writable, venv_of(&cmd.python), hub_dir(cmd));
        isolate(&mut command, cmd, prepared.as_ref(), hub_dir(cmd));
        let mut child = command
            .spawn()
            .map_err(|e| failed(format!("cannot run {:?}: {e}", cmd.python), Vec::new()))?;
        let confined = confined(prepared, socket.as_ref());
        let stderr_done = forward_lines(
            child.stderr.take().expect("stderr is piped"),
            logs.clone(),
            workspace.to_owned(),
            "stderr",
        );
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let ready = match tokio::time::timeout(cmd.start_timeout, read_ready(&mut stdout, workspace, logs)).await {
            Ok(Ok(ready)) => ready,
            Ok(Err(reason)) => return Err(fail(child, logs, stderr_done, reason, &failed).await),
            Err(_) => {
                let reason = format!("no ready line within {} ms", cmd.start_timeout.as_millis());
                return Err(fail(child, logs, stderr_done, reason, &failed).await);
            }
        };
        // Keep draining stdout so the process never blocks on a full pipe.
        // The forwarding task runs on; nobody waits for its end here.
        drop(forward_lines(stdout.into_inner(), logs.clone(), workspace.to_owned(), "stdout"));
        let stdin = child.stdin.take();
        let (endpoint, socket) = hub_endpoint(ready, socket.map(|s| s.path));
        let process = ChildProcess::adopt(child, workspace, stdin.map(|s| Box::new(s) as _), socket).confined(confined);
        Ok(Launched { endpoint, process: Box::new(process) })
    }

    /// Spawns the MCP server command of a stdio workspace. It is ready once
    /// spawned; its stdin and stdout are the endpoint and its stderr goes to
    /// `logs`.
    fn spawn_stdio(&self, workspace: &str, logs: &LogBuffer) -> Result<Launched> {
        let cmd = &self.command;
        let name = cmd.command.clone().unwrap_or_default();
        let failed = start_failed(workspace);
        let prepared = prepare(cmd, workspace, None).map_err(|reason| failed(reason, Vec::new()))?;
        let args: Vec<OsString> = cmd.args.iter().map(OsString::from).collect();
        let mut command = program(prepared.as_ref(), OsStr::new(&name), &args, &[], None, cmd.cwd.as_deref());
        if let Some(cwd) = &cmd.cwd {
            command.current_dir(cwd);
        }
        isolate(&mut command, cmd, prepared.as_ref(), None);
        let mut child =
            command.spawn().map_err(|e| failed(format!("cannot run {name:?}: {e}"), Vec::new()))?;
        let confined = confined(prepared, None);
        drop(forward_lines(child.stderr.take().expect("stderr is piped"), logs.clone(), workspace.to_owned(), "stderr"));
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        // The transport owns stdin: the process is stopped by signal.
        let process = ChildProcess::adopt(child, workspace, None, None).confined(confined);
        Ok(Launched {
            endpoint: Endpoint::Stdio { stdin, stdout },
            process: Box::new(process),
        })
    }
}

impl Launcher for LocalProcess {
    /// # Errors
    ///
    /// [`Error::StartFailed`] when the program cannot be spawned, or (the
    /// hub) when it exits before its ready line or none comes within
    /// `startTimeoutMs`; it carries the last stderr lines. The process is
    /// killed on every failure path.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills the process (`kill_on_drop`).
    fn launch<'a>(&'a self, workspace: &'a str, logs: &'a LogBuffer) -> BoxFuture<'a, Result<Launched>> {
        async move {
            match self.command.transport {
                TransportKind::Stdio => self.spawn_stdio(workspace, logs),
                TransportKind::Http | TransportKind::Unix => self.spawn_hub(workspace, logs).await,
            }
        }
        .boxed()
    }
}

/// The `StartFailed` error of `workspace`, from a reason and stderr lines.
pub(super) fn start_failed(workspace: &str) -> impl Fn(String, Vec<String>) -> Error + '_ {
    move |reason, stderr| Error::StartFailed {
        workspace: workspace.to_owned(),
        reason,
        stderr,
    }
}

/// A hub's endpoint from its ready line: over the Unix socket it names, or
/// `socket` (the path it was given), else TCP; and that socket path.
pub(super) fn hub_endpoint(ready: ReadyLine, socket: Option<PathBuf>) -> (Endpoint, Option<PathBuf>) {
    let socket = ready.uds.map(PathBuf::from).or(socket);
    let connector = match &socket {
        Some(path) => Connector::unix(path.clone()),
        None => Connector::tcp(),
    };
    (Endpoint::Http(HttpEndpoint { url: ready.url, connector, headers: Vec::new(), health_route: true }), socket)
}

/// Where a hub serves on a Unix socket: the socket's path, and the
/// directory made for it alone (a confined workspace's, owned by its user),
/// removed when its process is gone.
pub(super) struct SocketPath {
    pub path: PathBuf,
    pub own_dir: Option<PathBuf>,
}

/// Where a hub of `cmd` serves: `None` for TCP, else a new socket path in
/// the bridge's private socket directory (in a directory of its own when
/// the workspace runs as a user of its own).
pub(super) fn socket_path(cmd: &LaunchSpec) -> std::result::Result<Option<SocketPath>, String> {
    let dir = match (&cmd.transport, &cmd.socket_dir) {
        (TransportKind::Unix, Some(dir)) => dir,
        (TransportKind::Unix, None) => return Err("no private socket directory".into()),
        (TransportKind::Http | TransportKind::Stdio, _) => return Ok(None),
    };
    let name = format!("w{}", SOCKETS.fetch_add(1, Ordering::Relaxed));
    #[cfg(target_os = "linux")]
    if let Some(confinement) = &cmd.confinement {
        let own_dir = confinement
            .socket_dir(dir, &name)
            .map_err(|e| format!("isolation: socket directory: {e}"))?;
        if let Some(own_dir) = own_dir {
            return Ok(Some(SocketPath { path: own_dir.join("hub.sock"), own_dir: Some(own_dir) }));
        }
    }
    Ok(Some(SocketPath { path: dir.join(format!("{name}.sock")), own_dir: None }))
}

/// The command that runs `name` with `args`: itself, or bwrap running it
/// when the workspace is sandboxed (see [`Prepared::sandboxed`]).
fn program(
    prepared: Option<&Prepared>,
    name: &OsStr,
    args: &[OsString],
    writable: &[&Path],
    readable: Option<&Path>,
    cwd: Option<&Path>,
) -> Command {
    #[cfg(target_os = "linux")]
    if let Some((bwrap, argv)) =
        prepared.and_then(|p| p.sandboxed(name, args, writable, readable.as_slice(), cwd))
    {
        let mut command = Command::new(bwrap);
        command.args(argv);
        return command;
    }
    let _ = (prepared, writable, readable, cwd);
    let mut command = Command::new(name);
    command.args(args);
    command
}

/// The venv (or installation) an interpreter given by absolute path
/// belongs to: `<root>` of `<root>/bin/python`.
fn venv_of(python: &str) -> Option<&Path> {
    let path = Path::new(python);
    path.is_absolute().then(|| path.parent()?.parent()).flatten()
}

/// The workspace directory a hub of `cmd` is given, if any.
pub(super) fn hub_dir(cmd: &LaunchSpec) -> Option<&std::path::Path> {
    Some(cmd.dir.as_path()).filter(|dir| !dir.as_os_str().is_empty())
}

/// Before a start of a confined workspace: its directory handed over, its
/// control group made (see [`crate::isolation`]).
#[cfg(target_os = "linux")]
pub(super) fn prepare(
    cmd: &LaunchSpec,
    workspace: &str,
    dir: Option<&std::path::Path>,
) -> std::result::Result<Option<Prepared>, String> {
    cmd.confinement.as_ref().map(|c| c.prepare(workspace, dir)).transpose()
}

/// Off Linux, where isolation is refused: nothing to prepare.
#[cfg(not(target_os = "linux"))]
pub(super) fn prepare(
    _: &LaunchSpec,
    _: &str,
    _: Option<&std::path::Path>,
) -> std::result::Result<Option<Prepared>, String> {
    Ok(None)
}

/// What of a start's preparation the process's handle keeps.
#[cfg(target_os = "linux")]
pub(super) fn confined(prepared: Option<Prepared>, socket: Option<&SocketPath>) -> Confined {
    let own_dir = socket.and_then(|s| s.own_dir.clone());
    match prepared {
        Some(prepared) => prepared.into_confined(own_dir),
        None => Confined::owning(own_dir),
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn confined(prepared: Option<Prepared>, socket: Option<&SocketPath>) -> Confined {
    match prepared {
        Some(never) => match never {},
        None => Confined::owning(socket.and_then(|s| s.own_dir.clone())),
    }
}

/// Reads a hub's stdout up to its ready line; the lines before it go to
/// `logs`. The error says why none came.
pub(super) async fn read_ready<R: AsyncRead + Unpin>(
    stdout: &mut Lines<BufReader<R>>,
    workspace: &str,
    logs: &LogBuffer,
) -> std::result::Result<ReadyLine, String> {
    loop {
        match stdout.next_line().await {
            Ok(Some(line)) => match ReadyLine::parse(&line) {
                Some(ready) => return Ok(ready),
                None => {
                    tracing::info!(workspace, line, "hub stdout");
                    logs.push("stdout", line);
                }
            },
            Ok(None) => return Err("exited before its ready line".to_owned()),
            Err(e) => return Err(format!("reading stdout: {e}")),
        }
    }
}

/// Gives a workspace process its explicit environment, piped stdio, its own
/// process group, its isolation (when confined: control group, resource
/// limits, user, with `HOME` and the working directory its `dir`) and
/// (Linux) the parent-death signal, set last since a change of user clears
/// it.
fn isolate(command: &mut Command, cmd: &LaunchSpec, prepared: Option<&Prepared>, dir: Option<&std::path::Path>) {
    command
        .env_clear()
        .envs(cmd.inherited_env())
        .envs(&cmd.env)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    #[cfg(target_os = "linux")]
    if let Some(prepared) = prepared {
        if let (Some(dir), true) = (dir, prepared.changes_user()) {
            command.env("HOME", dir).current_dir(dir);
        }
        // SAFETY: the step makes system calls only, on values made before
        // the fork (see `Prepared::pre_exec`).
        unsafe {
            command.pre_exec(prepared.pre_exec());
        }
    }
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Kills a process that failed to start and builds its
/// [`Error::StartFailed`] with the stderr it wrote last.
async fn fail(
    mut child: Child,
    logs: &LogBuffer,
    stderr_done: oneshot::Receiver<()>,
    reason: String,
    failed: &impl Fn(String, Vec<String>) -> Error,
) -> Error {
    let _ = child.start_kill();
    let status = child.wait().await.ok();
    // Let the stderr reader drain what the process wrote last.
    let _ = tokio::time::timeout(Duration::from_secs(1), stderr_done).await;
    let reason = match status.and_then(|s| s.code()) {
        Some(code) if reason.starts_with("exited") => format!("{reason} (exit status {code})"),
        _ => reason,
    };
    failed(reason, logs.stderr_tail(FAILURE_LINES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_is_recognised_and_other_lines_are_not() {
        let ready = ReadyLine::parse(r#"{"event":"ready","url":"http://127.0.0.1:5/mcp"}"#);
        assert_eq!(ready.map(|r| r.url).as_deref(), Some("http://127.0.0.1:5/mcp"));
        assert_eq!(ReadyLine::parse("Starting server..."), None);
        assert_eq!(ReadyLine::parse(r#"{"event":"log","url":"x"}"#), None);
    }
}
