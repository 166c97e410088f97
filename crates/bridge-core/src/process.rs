//! A child process the core owns: its exit, watched from the moment it is
//! spawned, its output lines, and the signals that stop it.
//!
//! A [`ChildProcess`] is what [`LocalProcess`](crate::launcher::LocalProcess)
//! and, for a child forked by a fork server, the fork launcher hand the
//! supervisor as the launched [`Process`]. A monitor task watches the OS
//! process (a spawned child through `wait`, a forked one through its pidfd)
//! and publishes its exit status the moment it exits, so a crash is known
//! at once, not at the next call. The process leads its own process group
//! (see [`crate::launcher::local`]), so stopping or killing it reaches every
//! process it started.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::{oneshot, watch};

use crate::isolation::{Confined, LimitReason};
use crate::launcher::Process;
use crate::logs::{now_ms, LogBuffer};

/// A spawned child process, watched by a monitor task.
///
/// Dropping it kills the process group if it still runs and removes its
/// Unix socket file.
pub struct ChildProcess {
    /// The write end of its stdin: closing it tells the hub to exit (it
    /// exits when its stdin closes).
    stdin: Mutex<Option<Box<dyn Send>>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    exit: watch::Receiver<Option<String>>,
    pid: Option<u32>,
    /// The Unix socket file the process serves on, removed once it stops.
    socket: Option<PathBuf>,
    started_at: u64,
    /// Forked from a fork server, with which it shares pages.
    forked: bool,
    /// Its isolation's control group and limits (see [`crate::isolation`]).
    confined: Confined,
}

impl ChildProcess {
    /// Takes over `child`: a monitor task waits for its exit. `stdin`, when
    /// given, is closed by [`Process::stop`]; `socket` is removed once the
    /// process is stopped or dropped.
    ///
    /// Must be called within a tokio runtime.
    pub(crate) fn adopt(child: Child, workspace: &str, stdin: Option<Box<dyn Send>>, socket: Option<PathBuf>) -> Self {
        let pid = child.id();
        let (kill, killed) = oneshot::channel();
        let (exited, exit) = watch::channel(None);
        tokio::spawn(monitor(child, killed, exited, workspace.to_owned()));
        ChildProcess {
            stdin: Mutex::new(stdin),
            kill: Mutex::new(Some(kill)),
            exit,
            pid,
            socket,
            started_at: now_ms(),
            forked: false,
            confined: Confined::default(),
        }
    }

    /// Takes over `pid`, a child forked by a fork server (not a child of
    /// this process): its end is the first of its pidfd becoming readable
    /// and the fork server's `report` of its exit status (waited for 200 ms
    /// after the pidfd speaks). `stdin` is the write end of its stdin.
    ///
    /// Must be called within a tokio runtime.
    #[cfg(target_os = "linux")]
    pub(crate) fn forked(
        pid: u32,
        pidfd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
        report: oneshot::Receiver<String>,
        workspace: &str,
        stdin: Box<dyn Send>,
        socket: Option<PathBuf>,
    ) -> Self {
        let (kill, killed) = oneshot::channel();
        let (exited, exit) = watch::channel(None);
        tokio::spawn(monitor_forked(pid, pidfd, report, killed, exited, workspace.to_owned()));
        ChildProcess {
            stdin: Mutex::new(Some(stdin)),
            kill: Mutex::new(Some(kill)),
            exit,
            pid: Some(pid),
            socket,
            started_at: now_ms(),
            forked: true,
            confined: Confined::default(),
        }
    }

    /// The same, confined by `confined`: it tells which limit ended the
    /// process, and removes the process's control group once it is dropped.
    pub(crate) fn confined(mut self, confined: Confined) -> Self {
        self.confined = confined;
        self
    }

    /// The Unix socket the process serves on, if any.
    pub fn socket(&self) -> Option<&std::path::Path> {
        self.socket.as_deref()
    }

    /// Sends `signal` to the process group.
    fn signal_group(&self, signal: i32) {
        signal_group(self.pid, signal);
    }

    /// Removes the socket file, which a killed hub leaves behind.
    fn remove_socket(&self) {
        if let Some(path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Process for ChildProcess {
    fn pid(&self) -> Option<u32> {
        self.pid
    }

    fn started_at(&self) -> u64 {
        self.started_at
    }

    fn exit_now(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    fn shares_memory(&self) -> bool {
        self.forked
    }

    fn limit_reason(&self, status: &str) -> Option<LimitReason> {
        self.confined.limit_reason(status)
    }

    fn exited(&self) -> BoxFuture<'static, String> {
        let mut exit = self.exit.clone();
        async move {
            match exit.wait_for(Option::is_some).await {
                Ok(status) => status.clone().unwrap_or_default(),
                Err(_) => "unknown".to_owned(),
            }
        }
        .boxed()
    }

    /// Kills the whole process group at once (SIGKILL).
    fn kill(&self) {
        #[cfg(unix)]
        self.signal_group(libc::SIGKILL);
        if let Some(kill) = self.kill.lock().take() {
            let _ = kill.send(());
        }
    }

    /// Closes the process's stdin and sends SIGTERM to its process group,
    /// waits up to `grace`, then sends SIGKILL; removes its socket file.
    fn stop(&self, grace: Duration) -> BoxFuture<'_, ()> {
        async move {
            drop(self.stdin.lock().take());
            #[cfg(unix)]
            self.signal_group(libc::SIGTERM);
            if tokio::time::timeout(grace, self.exited()).await.is_err() {
                tracing::warn!(pid = self.pid, "process did not exit after SIGTERM; killing");
                self.kill();
                let _ = self.exited().await;
            }
            self.remove_socket();
        }
        .boxed()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.is_running() {
            self.kill();
        }
        self.remove_socket();
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
    tracing::info!(workspace, status, "workspace process exited");
    let _ = exited.send(Some(status));
}

/// Watches a forked child (see [`ChildProcess::forked`]): publishes how it
/// ended, kills its process group on request.
#[cfg(target_os = "linux")]
async fn monitor_forked(
    pid: u32,
    pidfd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
    mut report: oneshot::Receiver<String>,
    mut killed: oneshot::Receiver<()>,
    exited: watch::Sender<Option<String>>,
    workspace: String,
) {
    let ended = async {
        match &pidfd {
            Some(fd) => drop(fd.readable().await),
            // Without a pidfd (a kernel before 5.3): polled.
            None => {
                while !gone(pid) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    tokio::pin!(ended);
    let mut kill_requested = false;
    // The fork server's report (`Some(Err)` once it is gone), or `None`
    // when the pidfd spoke first.
    let mut first = None;
    while first.is_none() {
        tokio::select! {
            status = &mut report => first = Some(status.ok()),
            () = &mut ended => break,
            _ = &mut killed, if !kill_requested => {
                kill_requested = true;
                signal_group(Some(pid), libc::SIGKILL);
            }
        }
    }
    let status = match first {
        Some(Some(status)) => Some(status),
        // The fork server is gone: the pidfd alone tells the end.
        Some(None) => loop {
            tokio::select! {
                () = &mut ended => break None,
                _ = &mut killed, if !kill_requested => {
                    kill_requested = true;
                    signal_group(Some(pid), libc::SIGKILL);
                }
            }
        },
        // Ended: the fork server reports the status once it has reaped it.
        None => tokio::time::timeout(Duration::from_millis(200), report).await.ok().and_then(Result::ok),
    };
    let status = status.unwrap_or_else(|| "exited (status unknown: the fork server is gone)".to_owned());
    tracing::info!(workspace, status, "forked workspace process exited");
    let _ = exited.send(Some(status));
}

/// Whether `pid` has ended: no such process, or a zombie.
#[cfg(target_os = "linux")]
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) state ...": comm may hold spaces and parentheses.
        Ok(stat) => stat.rfind(')').and_then(|end| stat[end..].chars().nth(2)).is_none_or(|state| state == 'Z'),
        Err(_) => true,
    }
}

/// Sends `signal` to the process group `pid` leads.
fn signal_group(pid: Option<u32>, signal: i32) {
    #[cfg(unix)]
    if let Some(pid) = pid {
        // SAFETY: kill(2) with a negative pid signals the process group
        // the child leads (it was made the leader of its own group).
        unsafe {
            libc::kill(-(pid as i32), signal);
        }
    }
    #[cfg(not(unix))]
    let _ = (pid, signal);
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

/// Reads `stream` line by line into `logs` and `tracing`; the receiver
/// completes at end of stream.
pub(crate) fn forward_lines<R>(stream: R, logs: LogBuffer, workspace: String, name: &'static str) -> oneshot::Receiver<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (done, finished) = oneshot::channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(workspace, stream = name, line, "workspace output");
            logs.push(name, line);
        }
        let _ = done.send(());
    });
    finished
}
