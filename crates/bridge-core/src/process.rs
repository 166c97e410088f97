//! Spawning a workspace hub process, waiting for its ready line, and
//! stopping it.
//!
//! The hub (`python -m fastmcp_workspace --dir DIR --port 0`) prints exactly
//! one JSON line on stdout once it listens:
//! `{"event":"ready","url":"http://127.0.0.1:<port>/mcp"}`. Every other line
//! it writes, on stdout or stderr, goes to the workspace's [`LogBuffer`] and
//! to `tracing`, so that a start failure can say why.
//!
//! The process runs in its own process group with an explicit environment
//! (`PATH`, `HOME`, the variables named in `inheritEnv`, and the
//! workspace's `env`). On Linux it gets SIGKILL when the thread that
//! spawned it dies (parent-death signal; tokio's worker threads live as
//! long as the runtime), and the hub also exits at once when its stdin
//! closes, so it does not outlive the bridge however the bridge ends. Its
//! own stdio children see their stdin close and exit too.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{oneshot, watch};

use crate::config::{HubCommand, TransportKind};
use crate::error::{Error, Result};
use crate::transport::connect::Connector;

/// Numbers the Unix sockets of one bridge process.
static SOCKETS: AtomicU64 = AtomicU64::new(0);

/// Python module the hub runs as.
pub const HUB_MODULE: &str = "fastmcp_workspace";
/// Stderr lines carried by a start failure.
const FAILURE_LINES: usize = 20;
/// How long [`HubProcess::stop`] waits after SIGTERM before SIGKILL.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

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

/// One line a workspace process wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// When it was read, in ms since the Unix epoch.
    pub at: u64,
    /// `"stdout"` or `"stderr"`.
    pub stream: &'static str,
    /// The line, without its newline.
    pub line: String,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Bounded buffer of a workspace's most recent output lines, kept across
/// restarts. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<LogLine>>>,
    capacity: usize,
}

impl LogBuffer {
    /// A buffer keeping the last `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        LogBuffer {
            lines: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(1024)))),
            capacity,
        }
    }

    /// Appends a line, dropping the oldest beyond capacity.
    pub fn push(&self, stream: &'static str, line: String) {
        if self.capacity == 0 {
            return;
        }
        let mut lines = self.lines.lock();
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(LogLine {
            at: now_ms(),
            stream,
            line,
        });
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<LogLine> {
        let lines = self.lines.lock();
        lines.iter().skip(lines.len().saturating_sub(n)).cloned().collect()
    }

    /// The text of the last `n` stderr lines, oldest first.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock();
        let mut tail: Vec<String> = lines
            .iter()
            .rev()
            .filter(|l| l.stream == "stderr")
            .take(n)
            .map(|l| l.line.clone())
            .collect();
        tail.reverse();
        tail
    }
}

/// A running hub process.
///
/// A monitor task owns the child and publishes its exit status the moment
/// it exits, so a crash is known at once, not at the next call.
pub struct HubProcess {
    stdin: Mutex<Option<ChildStdin>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    exit: watch::Receiver<Option<String>>,
    pid: Option<u32>,
    logs: LogBuffer,
    url: String,
    uds: Option<PathBuf>,
    started_at: u64,
}

impl HubProcess {
    /// Spawns the hub for `cmd` and waits for its ready line.
    ///
    /// # Errors
    ///
    /// [`Error::StartFailed`] when the interpreter cannot be spawned, the
    /// process exits before its ready line, or none comes within
    /// `cmd.start_timeout`; it carries the last stderr lines. The process is
    /// killed on every failure path.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills the process (`kill_on_drop`).
    pub(crate) async fn spawn(workspace: &str, cmd: &HubCommand, logs: &LogBuffer) -> Result<HubProcess> {
        let failed = |reason: String, stderr: Vec<String>| Error::StartFailed {
            workspace: workspace.to_owned(),
            reason,
            stderr,
        };
        let socket = match (&cmd.transport, &cmd.socket_dir) {
            (TransportKind::Unix, Some(dir)) => {
                Some(dir.join(format!("w{}.sock", SOCKETS.fetch_add(1, Ordering::Relaxed))))
            }
            (TransportKind::Unix, None) => {
                return Err(failed("no private socket directory".into(), Vec::new()));
            }
            (TransportKind::Http | TransportKind::Stdio, _) => None,
        };
        let mut command = Command::new(&cmd.python);
        command.arg("-m").arg(HUB_MODULE).arg("--dir").arg(&cmd.dir);
        match &socket {
            Some(path) => command.arg("--uds").arg(path),
            None => command.arg("--port").arg("0"),
        };
        command.args(cmd.inline_config.iter().flat_map(|json| ["--config-json", json.as_str()]));
        isolate(&mut command, cmd);
        let mut child = command
            .spawn()
            .map_err(|e| failed(format!("cannot run {:?}: {e}", cmd.python), Vec::new()))?;
        let pid = child.id();
        let stderr_done = forward_lines(
            child.stderr.take().expect("stderr is piped"),
            logs.clone(),
            workspace.to_owned(),
            "stderr",
        );
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();

        let wait_ready = async {
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
        };
        let ready = match tokio::time::timeout(cmd.start_timeout, wait_ready).await {
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
        let (kill, killed) = oneshot::channel();
        let (exited, exit) = watch::channel(None);
        tokio::spawn(monitor(child, killed, exited, workspace.to_owned()));
        Ok(HubProcess {
            stdin: Mutex::new(stdin),
            kill: Mutex::new(Some(kill)),
            exit,
            pid,
            logs: logs.clone(),
            url: ready.url,
            uds: ready.uds.map(PathBuf::from).or(socket),
            started_at: now_ms(),
        })
    }

    /// The MCP endpoint URL from the ready line.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The OS process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// How to connect to the process: its Unix socket, or TCP.
    pub fn connector(&self) -> Connector {
        match &self.uds {
            Some(path) => Connector::unix(path.clone()),
            None => Connector::tcp(),
        }
    }

    /// The Unix socket the process serves on, if any.
    pub fn socket(&self) -> Option<&std::path::Path> {
        self.uds.as_deref()
    }

    /// When the process became ready, in ms since the Unix epoch.
    pub fn started_at(&self) -> u64 {
        self.started_at
    }

    /// The last `n` stderr lines, oldest first.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        self.logs.stderr_tail(n)
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// Resolves with how the process ended (`exit status N` or `signal N`).
    pub fn exited(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        let mut exit = self.exit.clone();
        async move {
            match exit.wait_for(Option::is_some).await {
                Ok(status) => status.clone().unwrap_or_default(),
                Err(_) => "unknown".to_owned(),
            }
        }
    }

    /// How the process ended, if it has.
    pub fn exit_now(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// How the process ended, waiting up to 500 ms for the exit to be
    /// noticed; `None` when it still runs.
    pub async fn exit_status(&self) -> Option<String> {
        match tokio::time::timeout(Duration::from_millis(500), self.exited()).await {
            Ok(status) => Some(status),
            Err(_) => self.exit.borrow().clone(),
        }
    }

    /// Sends `signal` to the process group.
    fn signal_group(&self, signal: i32) {
        #[cfg(unix)]
        if let Some(pid) = self.pid {
            // SAFETY: kill(2) with a negative pid signals the process group
            // the child leads (process_group(0) made its pid the pgid).
            unsafe {
                libc::kill(-(pid as i32), signal);
            }
        }
        #[cfg(not(unix))]
        let _ = signal;
    }

    /// Kills the whole process group at once (SIGKILL).
    pub fn kill(&self) {
        #[cfg(unix)]
        self.signal_group(libc::SIGKILL);
        if let Some(kill) = self.kill.lock().take() {
            let _ = kill.send(());
        }
    }

    /// Stops the process: closes its stdin and sends SIGTERM to its process
    /// group, waits up to `grace`, then sends SIGKILL. Idempotent; returns
    /// once it has exited.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the process to exit or be killed later.
    pub async fn stop(&self, grace: Duration) {
        drop(self.stdin.lock().take());
        #[cfg(unix)]
        self.signal_group(libc::SIGTERM);
        if tokio::time::timeout(grace, self.exited()).await.is_err() {
            tracing::warn!(pid = self.pid, "hub did not exit after SIGTERM; killing");
            self.kill();
            let _ = self.exited().await;
        }
        self.remove_socket();
    }

    /// Removes the socket file, which a killed hub leaves behind.
    fn remove_socket(&self) {
        if let Some(path) = &self.uds {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        if self.is_running() {
            self.kill();
        }
        self.remove_socket();
    }
}

/// Gives a workspace process its explicit environment, piped stdio, its own
/// process group and (Linux) the parent-death signal.
fn isolate(command: &mut Command, cmd: &HubCommand) {
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

impl HubProcess {
    /// Spawns an MCP server command for the stdio transport. It is ready
    /// once spawned; its stdin and stdout are handed back for the transport
    /// and its stderr goes to `logs`.
    ///
    /// # Errors
    ///
    /// [`Error::StartFailed`] when the command cannot be spawned.
    pub(crate) fn spawn_stdio(
        workspace: &str,
        cmd: &HubCommand,
        logs: &LogBuffer,
    ) -> Result<(HubProcess, ChildStdin, tokio::process::ChildStdout)> {
        let program = cmd.command.clone().unwrap_or_default();
        let mut command = Command::new(&program);
        command.args(&cmd.args);
        if let Some(cwd) = &cmd.cwd {
            command.current_dir(cwd);
        }
        isolate(&mut command, cmd);
        let mut child = command.spawn().map_err(|e| Error::StartFailed {
            workspace: workspace.to_owned(),
            reason: format!("cannot run {program:?}: {e}"),
            stderr: Vec::new(),
        })?;
        let pid = child.id();
        drop(forward_lines(child.stderr.take().expect("stderr is piped"), logs.clone(), workspace.to_owned(), "stderr"));
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (kill, killed) = oneshot::channel();
        let (exited, exit) = watch::channel(None);
        tokio::spawn(monitor(child, killed, exited, workspace.to_owned()));
        let process = HubProcess {
            stdin: Mutex::new(None),
            kill: Mutex::new(Some(kill)),
            exit,
            pid,
            logs: logs.clone(),
            url: "stdio".to_owned(),
            uds: None,
            started_at: now_ms(),
        };
        Ok((process, stdin, stdout))
    }
}

/// Owns the child: publishes its exit status, kills it on request.
async fn monitor(
    mut child: Child,
    killed: oneshot::Receiver<()>,
    exited: watch::Sender<Option<String>>,
    workspace: String,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        _ = killed => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
    let status = match status {
        Ok(status) => describe(status),
        Err(e) => format!("unknown ({e})"),
    };
    tracing::info!(workspace, status, "hub process exited");
    let _ = exited.send(Some(status));
}

/// `exit status N` or `signal N`.
fn describe(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "exited".to_owned(),
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

/// Reads `stream` line by line into `logs` and `tracing`; the receiver
/// completes at end of stream.
fn forward_lines<R>(stream: R, logs: LogBuffer, workspace: String, name: &'static str) -> oneshot::Receiver<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (done, finished) = oneshot::channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(workspace, stream = name, line, "hub output");
            logs.push(name, line);
        }
        let _ = done.send(());
    });
    finished
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

    #[test]
    fn log_buffer_keeps_the_most_recent_lines_with_their_stream() {
        let logs = LogBuffer::new(3);
        for i in 0..5 {
            logs.push(if i % 2 == 0 { "stderr" } else { "stdout" }, format!("line {i}"));
        }
        let tail: Vec<_> = logs.tail(10).into_iter().map(|l| (l.stream, l.line)).collect();
        assert_eq!(
            tail,
            [("stderr", "line 2".to_owned()), ("stdout", "line 3".to_owned()), ("stderr", "line 4".to_owned())]
        );
        assert_eq!(logs.stderr_tail(5), ["line 2", "line 4"]);
        assert!(logs.tail(1)[0].at > 0);
    }
}
