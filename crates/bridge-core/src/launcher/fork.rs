//! [`ForkLauncher`]: a hub workspace forked from a fork server that has
//! already imported the hub's modules.
//!
//! # Theory of operation
//!
//! Starting a hub costs about a second of imports (FastMCP, the MCP SDK,
//! pydantic, starlette, uvicorn, …), and each hub holds its own copy of
//! them. A [`ForkServer`] is one Python process per interpreter (`python -m
//! fastmcp_workspace.zygote`) that does those imports once and then forks a
//! child per workspace on request, as CPython's `multiprocessing`
//! forkserver and gunicorn's `--preload` do: a child starts without the
//! imports, and the pages of the imported code stay shared with the fork
//! server (copy-on-write) until written.
//!
//! - **Control.** The fork server's stdin is one end of a Unix socket pair.
//!   A fork request is a JSON line (`{"id", "argv", "env", "cwd"}`, and
//!   `"isolation"` for a confined workspace) with the
//!   child's stdin, stdout and stderr attached as file descriptors
//!   (`SCM_RIGHTS`); the answer is `{"id", "pid"}` (or `{"id", "error"}`), and
//!   each child's end is reported when the fork server reaps it
//!   (`{"exited": pid, "status"}`). The Python side documents the same
//!   protocol (`fastmcp_workspace/zygote.py`).
//! - **The child** leads its own session and process group, applies its
//!   isolation before any workspace code runs (control group, resource
//!   limits, user; see [`crate::isolation`]), has exactly the
//!   environment and working directory the request gives, and is the hub a
//!   spawned process would be: it prints the same ready line on its stdout,
//!   which this launcher reads as [`LocalProcess`](super::LocalProcess) does.
//!   Its stdout and stderr are pipes of this process, so its output reaches
//!   the workspace's logs directly, not through the fork server.
//! - **Watching a child that is not ours.** The child is the fork server's
//!   child, so this process cannot `wait` for it; it watches a pidfd instead
//!   (Linux 5.3), which becomes readable the moment the child ends, and
//!   takes the exit status from the fork server's report when one follows.
//! - **Warm pool.** With `prewarm: N` the fork server keeps N children
//!   forked ahead, each waiting on a socket of its own; a fork request goes
//!   to the oldest, which then does what a new child does (its session,
//!   isolation, environment, directory, the hub), and the pool is filled
//!   again after the answer. That saves the fork and the child's
//!   interpreter-level start; nothing that depends on the workspace can be
//!   done ahead. Pooled children end when the fork server does.
//! - **Lifetimes.** The fork server exits when its control socket closes,
//!   and gets SIGKILL when this process dies (parent-death signal). A child
//!   outlives the fork server: its pidfd still reports its end, and it still
//!   ends with this process, because its stdin, a pipe from this process,
//!   closes then and the hub exits on end of file. A fork server that dies
//!   is started again for the next fork, after a backoff when it died soon
//!   after starting.
//!
//! Linux only (pidfds, the parent-death signal); elsewhere the bridge uses
//! [`LocalProcess`](super::LocalProcess).

use std::collections::{BTreeMap, HashMap};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, BufReader, Interest};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use super::local::{confined, hub_dir, hub_endpoint, prepare, read_ready, socket_path, start_failed};
use super::{Launched, Launcher, Process};
use crate::backoff::Backoff;
use crate::config::LaunchSpec;
use crate::error::Result;
use crate::isolation::Prepared;
use crate::logs::LogBuffer;
use crate::process::{forward_lines, ChildProcess};

/// The fork server's module.
const ZYGOTE_MODULE: &str = "fastmcp_workspace.zygote";
/// Stderr lines carried by a start failure.
const FAILURE_LINES: usize = 20;
/// Output lines of the fork server itself kept for start failures.
const ZYGOTE_LOG_LINES: usize = 200;
/// A fork server that lived at least this long restarts without delay.
const STABLE_AFTER: Duration = Duration::from_secs(10);

/// One fork server per interpreter, started on the first fork and again
/// after it dies. Shared by the [`ForkLauncher`]s of the workspaces that use
/// its interpreter.
pub struct ForkServer {
    python: String,
    /// Children it keeps forked ahead (`--prewarm`).
    prewarm: usize,
    /// The running fork server; a new one is started when it is gone.
    current: tokio::sync::Mutex<Option<Arc<Zygote>>>,
    /// Delays a restart after a fork server that died soon after starting.
    backoff: Mutex<(Backoff, Option<Instant>)>,
    /// The fork server's own output, for start failures.
    logs: LogBuffer,
}

impl ForkServer {
    /// A fork server of `python` keeping `prewarm` children forked ahead
    /// (not started until the first fork).
    pub fn new(python: String, prewarm: usize) -> Self {
        ForkServer {
            python,
            prewarm,
            current: tokio::sync::Mutex::new(None),
            backoff: Mutex::new((
                Backoff::new(Duration::from_millis(200), 2, Duration::from_secs(10)),
                None,
            )),
            logs: LogBuffer::new(ZYGOTE_LOG_LINES),
        }
    }

    /// Ends the fork server and waits until it has exited (its children
    /// are not touched).
    pub async fn shutdown(&self) {
        if let Some(zygote) = self.current.lock().await.take() {
            zygote.kill();
            let mut exited = zygote.exited.clone();
            let _ = exited.wait_for(|exited| *exited).await;
        }
    }

    /// The running fork server, started (after a backoff, see
    /// [`STABLE_AFTER`]) when none runs.
    async fn running(&self) -> std::result::Result<Arc<Zygote>, String> {
        let mut current = self.current.lock().await;
        if let Some(zygote) = current.as_ref().filter(|z| z.is_alive()) {
            return Ok(zygote.clone());
        }
        let delay = {
            let mut backoff = self.backoff.lock();
            let delay = match (current.is_some(), backoff.1) {
                (true, Some(started)) if started.elapsed() < STABLE_AFTER => backoff.0.next(),
                _ => {
                    backoff.0.reset();
                    None
                }
            };
            backoff.1 = Some(Instant::now());
            delay
        };
        if let Some(delay) = delay {
            tracing::warn!(
                python = self.python,
                ?delay,
                "fork server died soon after starting; restarting after a delay"
            );
            tokio::time::sleep(delay).await;
        }
        let zygote = Arc::new(Zygote::start(&self.python, self.prewarm, &self.logs)?);
        *current = Some(zygote.clone());
        Ok(zygote)
    }

    /// Forks a child running the hub with `argv`, `env` and `cwd`, with
    /// `stdio` as its stdin, stdout and stderr. Waits up to `timeout`
    /// (the fork server may be importing still).
    async fn fork(
        &self,
        request: ForkRequest<'_>,
        stdio: [OwnedFd; 3],
        timeout: Duration,
    ) -> std::result::Result<Forked, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let zygote = tokio::time::timeout_at(deadline, self.running())
            .await
            .map_err(|_| "the fork server did not start in time".to_owned())??;
        let answer = zygote.request(request, stdio).await?;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(format!(
                "the fork server exited: {}",
                self.logs.stderr_tail(3).join(" | ")
            )),
            Err(_) => Err("the fork server did not answer in time".to_owned()),
        }
    }
}

/// What one fork request sends (the `id` is added by [`Zygote::request`]).
#[derive(serde::Serialize)]
struct ForkRequest<'a> {
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    cwd: &'a str,
    /// What the child applies to itself before the hub starts (see
    /// [`Prepared::fork_request`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    isolation: Option<serde_json::Value>,
}

/// A forked child: its pid and the fork server's report of its end.
struct Forked {
    pid: u32,
    report: oneshot::Receiver<String>,
}

/// A message of the fork server.
#[derive(Deserialize)]
#[serde(untagged)]
enum Answer {
    Forked { id: u64, pid: u32 },
    Failed { id: u64, error: String },
    Exited { exited: u32, status: String },
}

type Pending = HashMap<u64, oneshot::Sender<std::result::Result<Forked, String>>>;

/// One running fork server process.
struct Zygote {
    control: Arc<UnixStream>,
    /// Fork requests sent and not answered, by id; `None` once it is gone.
    pending: Arc<Mutex<Option<Pending>>>,
    next_id: AtomicU64,
    /// Sends one request at a time (a request is one write with its fds).
    sending: tokio::sync::Mutex<()>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    /// Turns true once the process has exited and been reaped.
    exited: tokio::sync::watch::Receiver<bool>,
}

impl Zygote {
    /// Spawns `python -m fastmcp_workspace.zygote` with one end of a socket
    /// pair as its stdin, and a task that reads its answers.
    fn start(python: &str, prewarm: usize, logs: &LogBuffer) -> std::result::Result<Zygote, String> {
        let (ours, theirs) =
            std::os::unix::net::UnixStream::pair().map_err(|e| format!("socket pair: {e}"))?;
        let mut command = Command::new(python);
        command
            .arg("-m")
            .arg(ZYGOTE_MODULE)
            .arg(format!("--prewarm={prewarm}"))
            .env_clear()
            .envs(
                ["PATH", "HOME"]
                    .into_iter()
                    .filter_map(|n| std::env::var_os(n).map(|v| (n, v))),
            )
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {python:?}: {e}"))?;
        drop(forward_lines(
            child.stderr.take().expect("stderr is piped"),
            logs.clone(),
            "fork server".to_owned(),
            "stderr",
        ));
        ours.set_nonblocking(true)
            .map_err(|e| format!("socket pair: {e}"))?;
        let control =
            Arc::new(UnixStream::from_std(ours).map_err(|e| format!("socket pair: {e}"))?);
        let pending: Arc<Mutex<Option<Pending>>> = Arc::new(Mutex::new(Some(HashMap::new())));
        let (kill, killed) = oneshot::channel();
        let (reaped, exited) = tokio::sync::watch::channel(false);
        let pid = child.id();
        tracing::info!(python, pid, "fork server started");
        tokio::spawn(read_answers(
            control.clone(),
            pending.clone(),
            child,
            killed,
            reaped,
        ));
        Ok(Zygote {
            control,
            pending,
            next_id: AtomicU64::new(1),
            sending: tokio::sync::Mutex::new(()),
            kill: Mutex::new(Some(kill)),
            exited,
        })
    }

    fn is_alive(&self) -> bool {
        self.pending.lock().is_some()
    }

    fn kill(&self) {
        if let Some(kill) = self.kill.lock().take() {
            let _ = kill.send(());
        }
    }

    /// Sends a fork request with `stdio` attached; the receiver gets the
    /// answer (dropped unanswered when the fork server dies).
    async fn request(
        &self,
        request: ForkRequest<'_>,
        stdio: [OwnedFd; 3],
    ) -> std::result::Result<oneshot::Receiver<std::result::Result<Forked, String>>, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut line = serde_json::to_value(&request).expect("serializable");
        line["id"] = id.into();
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        let (answered, answer) = oneshot::channel();
        match self.pending.lock().as_mut() {
            Some(pending) => pending.insert(id, answered),
            None => return Err("the fork server exited".to_owned()),
        };
        let _sending = self.sending.lock().await;
        let fds = stdio.each_ref().map(AsRawFd::as_raw_fd);
        let socket = self.control.as_raw_fd();
        // A request that could not be sent waits for no answer.
        let sending = |e: std::io::Error| {
            if let Some(pending) = self.pending.lock().as_mut() {
                pending.remove(&id);
            }
            format!("sending to the fork server: {e}")
        };
        let sent = self
            .control
            .async_io(Interest::WRITABLE, || {
                let data = [IoSlice::new(&bytes)];
                let rights = [ControlMessage::ScmRights(&fds)];
                sendmsg::<()>(socket, &data, &rights, MsgFlags::MSG_NOSIGNAL, None)
                    .map_err(std::io::Error::from)
            })
            .await
            .map_err(sending)?;
        // The descriptors went with the first byte; the rest of a long line follows.
        let mut rest = &bytes[sent..];
        while !rest.is_empty() {
            self.control.writable().await.map_err(sending)?;
            match self.control.try_write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(sending(e)),
            }
        }
        Ok(answer)
    }
}

/// Reads the fork server's answers until it exits or is killed; then fails
/// what is pending and reaps it.
async fn read_answers(
    control: Arc<UnixStream>,
    pending: Arc<Mutex<Option<Pending>>>,
    mut child: Child,
    killed: oneshot::Receiver<()>,
    reaped: tokio::sync::watch::Sender<bool>,
) {
    let exits: Arc<Mutex<HashMap<u32, oneshot::Sender<String>>>> = Arc::default();
    let read = async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if control.readable().await.is_err() {
                return;
            }
            let n = match control.try_read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            };
            buffer.extend_from_slice(&chunk[..n]);
            while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                match serde_json::from_slice::<Answer>(&line) {
                    Ok(Answer::Forked { id, pid }) => {
                        let (reported, report) = oneshot::channel();
                        exits.lock().insert(pid, reported);
                        if let Some(answered) = pending.lock().as_mut().and_then(|p| p.remove(&id))
                        {
                            let _ = answered.send(Ok(Forked { pid, report }));
                        }
                    }
                    Ok(Answer::Failed { id, error }) => {
                        if let Some(answered) = pending.lock().as_mut().and_then(|p| p.remove(&id))
                        {
                            let _ = answered.send(Err(error));
                        }
                    }
                    Ok(Answer::Exited { exited, status }) => {
                        if let Some(reported) = exits.lock().remove(&exited) {
                            let _ = reported.send(status);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable fork server message"),
                }
            }
        }
    };
    tokio::select! {
        () = read => {}
        _ = killed => {}
    }
    // Unanswered requests fail (their senders drop); reports that will
    // never come let the children's pidfds speak alone.
    pending.lock().take();
    exits.lock().clear();
    let _ = child.start_kill();
    let status = child.wait().await;
    tracing::info!(?status, "fork server exited");
    let _ = reaped.send(true);
}

/// Launches hub workspaces by forking them from a [`ForkServer`].
pub struct ForkLauncher {
    server: Arc<ForkServer>,
    command: LaunchSpec,
}

impl ForkLauncher {
    /// A launcher of `command` (a hub workspace) through `server`.
    pub(crate) fn new(server: Arc<ForkServer>, command: LaunchSpec) -> Self {
        ForkLauncher { server, command }
    }

    async fn fork_hub(&self, workspace: &str, logs: &LogBuffer) -> Result<Launched> {
        let cmd = &self.command;
        let failed = start_failed(workspace);
        let prepared = prepare(cmd, workspace, hub_dir(cmd)).map_err(|reason| failed(reason, Vec::new()))?;
        let socket = socket_path(cmd).map_err(|reason| failed(reason, Vec::new()))?;
        let mut argv: Vec<String> = cmd
            .dir_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        match &socket {
            Some(socket) => argv.extend(["--uds".to_owned(), socket.path.to_string_lossy().into_owned()]),
            None => argv.extend(["--port".to_owned(), "0".to_owned()]),
        }
        argv.extend(
            cmd.inline_config
                .iter()
                .flat_map(|json| ["--config-json".to_owned(), json.clone()]),
        );
        let mut env: BTreeMap<String, String> = cmd
            .inherited_env()
            .into_iter()
            .filter_map(|(name, value)| value.into_string().ok().map(|value| (name, value)))
            .collect();
        env.extend(cmd.env.clone());
        env.insert("PYTHONUNBUFFERED".into(), "1".into());
        let mut cwd = std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/".into());
        if let (Some(dir), true) = (hub_dir(cmd), prepared.as_ref().is_some_and(Prepared::changes_user)) {
            cwd = dir.to_string_lossy().into_owned();
            env.insert("HOME".into(), cwd.clone());
        }

        let pipe = |what: &str| {
            std::io::pipe().map_err(|e| failed(format!("{what} pipe: {e}"), Vec::new()))
        };
        let (stdin_r, stdin_w) = pipe("stdin")?;
        let (stdout_r, stdout_w) = pipe("stdout")?;
        let (stderr_r, stderr_w) = pipe("stderr")?;
        let stdio = [
            OwnedFd::from(stdin_r),
            OwnedFd::from(stdout_w),
            OwnedFd::from(stderr_w),
        ];
        let request = ForkRequest {
            argv,
            env,
            cwd: &cwd,
            isolation: prepared.as_ref().map(Prepared::fork_request),
        };
        let forked = self
            .server
            .fork(request, stdio, cmd.start_timeout)
            .await
            .map_err(|reason| failed(reason, self.server.logs.stderr_tail(FAILURE_LINES)))?;
        let confined = confined(prepared, socket.as_ref());
        // Ours from here: stop (stdin close, signals) and the end of the child.
        let into_io = |e: std::io::Error| failed(format!("child pipes: {e}"), Vec::new());
        let stdin = tokio::net::unix::pipe::Sender::from_owned_fd(OwnedFd::from(stdin_w))
            .map_err(into_io)?;
        let stdout = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(stdout_r))
            .map_err(into_io)?;
        let stderr = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(stderr_r))
            .map_err(into_io)?;
        let process = ChildProcess::forked(
            forked.pid,
            pidfd(forked.pid),
            forked.report,
            workspace,
            Box::new(stdin),
            socket.as_ref().map(|s| s.path.clone()),
        )
        .confined(confined);
        let stderr_done = forward_lines(stderr, logs.clone(), workspace.to_owned(), "stderr");
        let mut stdout = BufReader::new(stdout).lines();
        let ready =
            match tokio::time::timeout(cmd.start_timeout, read_ready(&mut stdout, workspace, logs))
                .await
            {
                Ok(Ok(ready)) => ready,
                outcome => {
                    let reason = match outcome {
                        Ok(Err(reason)) => reason,
                        _ => format!("no ready line within {} ms", cmd.start_timeout.as_millis()),
                    };
                    process.kill();
                    let status = process.exited().await;
                    let _ = tokio::time::timeout(Duration::from_secs(1), stderr_done).await;
                    let reason = if reason.starts_with("exited") {
                        format!("{reason} ({status})")
                    } else {
                        reason
                    };
                    return Err(failed(reason, logs.stderr_tail(FAILURE_LINES)));
                }
            };
        drop(forward_lines(
            stdout.into_inner(),
            logs.clone(),
            workspace.to_owned(),
            "stdout",
        ));
        let (endpoint, _) = hub_endpoint(ready, socket.map(|s| s.path));
        Ok(Launched {
            endpoint,
            process: Box::new(process),
        })
    }
}

impl Launcher for ForkLauncher {
    /// # Errors
    ///
    /// [`Error::StartFailed`] when the fork server cannot start or fork, or
    /// the child exits before its ready line or none comes within
    /// `startTimeoutMs`; it carries the child's last stderr lines (the fork
    /// server's, when the fork itself failed). The child is killed on every
    /// failure path.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills a forked child (its [`ChildProcess`] is
    /// dropped).
    fn launch<'a>(
        &'a self,
        workspace: &'a str,
        logs: &'a LogBuffer,
    ) -> BoxFuture<'a, Result<Launched>> {
        self.fork_hub(workspace, logs).boxed()
    }
}

/// A pidfd of `pid` (readable once it ends), or `None` when it has ended
/// and been reaped already, or the kernel has no pidfds (before 5.3).
fn pidfd(pid: u32) -> Option<AsyncFd<OwnedFd>> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        tracing::warn!(pid, error = %std::io::Error::last_os_error(), "no pidfd for a forked workspace");
        return None;
    }
    // SAFETY: the descriptor is new and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: an OwnedFd keeps its one descriptor open until dropped.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok()
}

/// Every hub workspace of this interpreter and of the others: the fork
/// servers of one bridge, by interpreter.
#[derive(Default)]
pub struct ForkServers {
    servers: Mutex<HashMap<String, Arc<ForkServer>>>,
    /// Children each keeps forked ahead.
    prewarm: usize,
}

impl ForkServers {
    /// The fork servers of one bridge, each keeping `prewarm` children
    /// forked ahead.
    pub fn new(prewarm: usize) -> Self {
        ForkServers { servers: Mutex::default(), prewarm }
    }

    /// The fork server of `python`, made (not started) on first use.
    pub fn of(&self, python: &str) -> Arc<ForkServer> {
        self.servers
            .lock()
            .entry(python.to_owned())
            .or_insert_with(|| Arc::new(ForkServer::new(python.to_owned(), self.prewarm)))
            .clone()
    }

    /// Ends every fork server.
    pub async fn shutdown(&self) {
        let servers: Vec<_> = self.servers.lock().values().cloned().collect();
        for server in servers {
            server.shutdown().await;
        }
    }
}
