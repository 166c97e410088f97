//! Spawning a workspace hub process and waiting for its ready line.
//!
//! The hub (`python -m fastmcp_workspace --dir DIR --port 0`) prints exactly
//! one JSON line on stdout once it listens:
//! `{"event":"ready","url":"http://127.0.0.1:<port>/mcp"}`. Everything it
//! writes on stderr is kept in a bounded buffer of recent lines so that a
//! start failure can say why. The hub exits when its stdin closes, which is
//! how [`HubProcess::stop`] asks it to go.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{oneshot, watch};

use crate::config::HubCommand;
use crate::error::{Error, Result};

/// Python module the hub runs as.
pub const HUB_MODULE: &str = "fastmcp_workspace";
/// Recent stderr lines kept per process.
const STDERR_LINES: usize = 200;
/// Stderr lines carried by a start failure.
const FAILURE_LINES: usize = 20;
/// How long a stopping process may take to exit after its stdin closes.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The hub's ready line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReadyLine {
    /// Always `"ready"`.
    pub event: String,
    /// The MCP endpoint URL.
    pub url: String,
}

impl ReadyLine {
    /// Parses one stdout line; `None` for anything that is not a ready line.
    pub fn parse(line: &str) -> Option<ReadyLine> {
        serde_json::from_str::<ReadyLine>(line.trim())
            .ok()
            .filter(|r| r.event == "ready")
    }
}

/// Bounded buffer of a process's most recent output lines.
#[derive(Debug, Clone, Default)]
pub struct LineBuffer {
    lines: Arc<Mutex<VecDeque<String>>>,
    capacity: usize,
}

impl LineBuffer {
    /// A buffer keeping the last `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        LineBuffer {
            lines: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(1024)))),
            capacity,
        }
    }

    /// Appends a line, dropping the oldest beyond capacity.
    pub fn push(&self, line: String) {
        let mut lines = self.lines.lock();
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        if self.capacity > 0 {
            lines.push_back(line);
        }
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock();
        lines.iter().skip(lines.len().saturating_sub(n)).cloned().collect()
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
    stderr: LineBuffer,
    url: String,
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
    pub(crate) async fn spawn(workspace: &str, cmd: &HubCommand) -> Result<HubProcess> {
        let failed = |reason: String, stderr: Vec<String>| Error::StartFailed {
            workspace: workspace.to_owned(),
            reason,
            stderr,
        };
        let mut command = Command::new(&cmd.python);
        command
            .arg("-m")
            .arg(HUB_MODULE)
            .arg("--dir")
            .arg(&cmd.dir)
            .arg("--port")
            .arg("0")
            .args(cmd.inline_config.iter().flat_map(|json| ["--config-json", json.as_str()]))
            .envs(&cmd.env)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| failed(format!("cannot run {:?}: {e}", cmd.python), Vec::new()))?;
        let pid = child.id();
        let stderr = LineBuffer::new(STDERR_LINES);
        let stderr_done = forward_lines(
            child.stderr.take().expect("stderr is piped"),
            stderr.clone(),
            workspace.to_owned(),
            "stderr",
        );
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();

        let wait_ready = async {
            loop {
                match stdout.next_line().await {
                    Ok(Some(line)) => match ReadyLine::parse(&line) {
                        Some(ready) => return Ok(ready),
                        None => tracing::info!(workspace, line, "hub stdout"),
                    },
                    Ok(None) => return Err("exited before its ready line".to_owned()),
                    Err(e) => return Err(format!("reading stdout: {e}")),
                }
            }
        };
        let ready = match tokio::time::timeout(cmd.start_timeout, wait_ready).await {
            Ok(Ok(ready)) => ready,
            Ok(Err(reason)) => return Err(fail(child, stderr, stderr_done, reason, &failed).await),
            Err(_) => {
                let reason = format!("no ready line within {} ms", cmd.start_timeout.as_millis());
                return Err(fail(child, stderr, stderr_done, reason, &failed).await);
            }
        };
        // Keep draining stdout so the process never blocks on a full pipe.
        let workspace_id = workspace.to_owned();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                tracing::info!(workspace = workspace_id, line, "hub stdout");
            }
        });
        let stdin = child.stdin.take();
        let (kill, killed) = oneshot::channel();
        let (exited, exit) = watch::channel(None);
        tokio::spawn(monitor(child, killed, exited, workspace.to_owned()));
        Ok(HubProcess {
            stdin: Mutex::new(stdin),
            kill: Mutex::new(Some(kill)),
            exit,
            pid,
            stderr,
            url: ready.url,
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

    /// The last `n` stderr lines, oldest first.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        self.stderr.tail(n)
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// How the process ended (`exit status N` or `signal N`), waiting up to
    /// 500 ms for the exit to be noticed; `None` when it still runs.
    pub async fn exit_status(&self) -> Option<String> {
        let mut exit = self.exit.clone();
        let noticed = tokio::time::timeout(Duration::from_millis(500), async {
            exit.wait_for(Option::is_some).await.ok().and_then(|s| s.clone())
        });
        match noticed.await {
            Ok(Some(status)) => Some(status),
            _ => self.exit.borrow().clone(),
        }
    }

    /// Stops the process: closes its stdin (the hub exits on EOF), waits up
    /// to 5 s, then kills it. Idempotent; returns once it has exited.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the process to exit or be killed later.
    pub async fn stop(&self) {
        drop(self.stdin.lock().take());
        let mut exit = self.exit.clone();
        let exited = tokio::time::timeout(STOP_GRACE, async {
            let _ = exit.wait_for(Option::is_some).await;
        })
        .await;
        if exited.is_err() {
            tracing::warn!(pid = self.pid, "hub did not exit after stdin closed; killing");
            if let Some(kill) = self.kill.lock().take() {
                let _ = kill.send(());
            }
            let _ = exit.wait_for(Option::is_some).await;
        }
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
    stderr: LineBuffer,
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
    failed(reason, stderr.tail(FAILURE_LINES))
}

/// Reads `stream` line by line into `buffer` and `tracing`; the receiver
/// completes at end of stream.
fn forward_lines<R>(
    stream: R,
    buffer: LineBuffer,
    workspace: String,
    name: &'static str,
) -> oneshot::Receiver<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (done, finished) = oneshot::channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(workspace, stream = name, line, "hub output");
            buffer.push(line);
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
    fn line_buffer_keeps_the_most_recent_lines() {
        let buffer = LineBuffer::new(3);
        for i in 0..5 {
            buffer.push(format!("line {i}"));
        }
        assert_eq!(buffer.tail(10), ["line 2", "line 3", "line 4"]);
        assert_eq!(buffer.tail(1), ["line 4"]);
    }
}
