//! Per-workspace OS isolation: its own user and group, resource limits
//! (`setrlimit`), a control group whose limits cover every process the
//! workspace starts, a network namespace of its own, and a bubblewrap
//! sandbox.
//!
//! # Theory of operation
//!
//! [`Isolation`] is the option (bridge-wide, overridden field by field per
//! workspace). A workspace's launcher resolves it once into a
//! [`Confinement`] (an `'auto'` user becomes a uid), and before each start
//! [`Confinement::prepare`] hands the workspace directory to that user
//! (owner, mode 0700) and creates the process's control group
//! ([`cgroup`]). The new process then, before any workspace code runs,
//! joins the control group, sets its resource limits, enters its network
//! namespace, and drops to the user and group, in that order (joining and
//! unsharing need root, and a limit set before the user change binds the
//! user's code):
//!
//! - a spawned process does it between `fork` and `exec`
//!   ([`Prepared::pre_exec`]): raw system calls only, on values computed
//!   before the fork;
//! - a forked hub does it in the fork server's child
//!   ([`Prepared::fork_request`] carries the values) before the hub's code
//!   reads the workspace's configuration;
//! - a sandboxed process is spawned as bwrap running `setpriv` running the
//!   program ([`Prepared::sandboxed`]): the steps but the user change
//!   happen before bwrap's `exec`, and `setpriv` changes the user inside
//!   the sandbox that bwrap (as root) built.
//!
//! When the process ends, [`Confined`] tells whether a limit ended it
//! ([`LimitReason`]): the CPU time limit (`SIGXCPU`), the control group's
//! memory limit (its OOM kill counter) or its process limit (its `max`
//! events). Dropping it kills what is left in the control group and
//! removes it.
//!
//! Linux only: elsewhere [`Isolation`] other than the default is refused.

#[cfg(target_os = "linux")]
pub mod cgroup;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::config::{TransportKind, UnknownName};
use crate::error::{Error, Result};

/// The directories a sandbox gives a private, empty file system of its own.
const PRIVATE_DIRS: [&str; 2] = ["/tmp", "/var/tmp"];

/// The first uid of `user: 'auto'` unless `uid_base` says otherwise.
pub const DEFAULT_UID_BASE: u32 = 200_000;
/// How many uids `user: 'auto'` hands out from `uid_base`.
pub const AUTO_UIDS: u32 = 100_000;

/// Which user a workspace's process runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// This uid.
    Id(u32),
    /// A uid of its own per workspace: `uid_base`, `uid_base + 1`, … in the
    /// order workspaces first start.
    Auto,
}

/// The network a workspace's process may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// The machine's (no isolation).
    Host,
    /// A network namespace of its own with only a loopback interface, up:
    /// its processes reach each other on 127.0.0.1, nothing else.
    Loopback,
    /// A network namespace of its own whose loopback interface is down: no
    /// network at all.
    None,
}

impl FromStr for Network {
    type Err = UnknownName;

    /// `"host"`, `"loopback"` or `"none"`.
    fn from_str(text: &str) -> std::result::Result<Self, UnknownName> {
        match text {
            "host" => Ok(Network::Host),
            "loopback" => Ok(Network::Loopback),
            "none" => Ok(Network::None),
            _ => Err(UnknownName::new("'host', 'loopback' or 'none'", text)),
        }
    }
}

impl Network {
    fn as_str(self) -> &'static str {
        match self {
            Network::Host => "host",
            Network::Loopback => "loopback",
            Network::None => "none",
        }
    }
}

/// A file system sandbox around a workspace's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sandbox {
    /// bubblewrap (`bwrap`, the system's package): the whole file system
    /// read-only, `/dev` and `/proc` of their own, private `/tmp` and
    /// `/var/tmp`, and only the workspace's directory (and its Unix
    /// socket's) writable.
    Bubblewrap,
}

impl FromStr for Sandbox {
    type Err = UnknownName;

    /// `"bubblewrap"`.
    fn from_str(text: &str) -> std::result::Result<Self, UnknownName> {
        match text {
            "bubblewrap" => Ok(Sandbox::Bubblewrap),
            _ => Err(UnknownName::new("'bubblewrap'", text)),
        }
    }
}

/// OS isolation of a workspace's process, applied before any of its code
/// runs. Every field is optional; a workspace's fields override the
/// bridge's one by one.
///
/// # Default
///
/// None of it: the process runs as the bridge's user, with the bridge's
/// limits, in the bridge's control group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Isolation {
    /// Run as this user (needs root). The workspace directory is handed to
    /// it (owner, mode 0700) before each start, and `HOME` is that
    /// directory.
    pub user: Option<User>,
    /// Run with this group. Default: the uid's number.
    pub group: Option<u32>,
    /// The first uid of [`User::Auto`]. Default: [`DEFAULT_UID_BASE`].
    pub uid_base: Option<u32>,
    /// `RLIMIT_AS`: the process's virtual address space, in MiB; an
    /// allocation beyond it fails (Python: `MemoryError`).
    pub address_space_mb: Option<u64>,
    /// `RLIMIT_NOFILE`: open file descriptors.
    pub open_files: Option<u64>,
    /// `RLIMIT_NPROC`: processes and threads of the user; needs `user`
    /// (the count is per uid).
    pub processes: Option<u64>,
    /// `RLIMIT_CPU`: CPU time of the process, in s; past it the process
    /// gets `SIGXCPU` and ends (`cpu_limit`).
    pub cpu_seconds: Option<u64>,
    /// Control group memory limit of every process of the workspace, in
    /// MiB, swap not allowed; past it the kernel's OOM killer ends one
    /// (`memory_limit`).
    pub memory_mb: Option<u64>,
    /// Control group limit of processes and threads of the workspace; a
    /// `fork` beyond it fails (`EAGAIN`).
    pub pids: Option<u64>,
    /// Control group CPU bandwidth of the workspace, in percent of one core
    /// (200: two cores); it is throttled beyond it.
    pub cpu_percent: Option<u64>,
    /// The network it may use. Default: [`Network::Host`]. Other than
    /// `Host` needs a transport the bridge reaches without the network:
    /// `unix` or `stdio`.
    pub network: Option<Network>,
    /// A file system sandbox. Default: none. A sandboxed hub workspace is
    /// always spawned (bwrap must start the interpreter).
    pub sandbox: Option<Sandbox>,
}

impl Isolation {
    /// `self` where set, else `fallback`.
    pub(crate) fn or(&self, fallback: &Isolation) -> Isolation {
        Isolation {
            user: self.user.or(fallback.user),
            group: self.group.or(fallback.group),
            uid_base: self.uid_base.or(fallback.uid_base),
            address_space_mb: self.address_space_mb.or(fallback.address_space_mb),
            open_files: self.open_files.or(fallback.open_files),
            processes: self.processes.or(fallback.processes),
            cpu_seconds: self.cpu_seconds.or(fallback.cpu_seconds),
            memory_mb: self.memory_mb.or(fallback.memory_mb),
            pids: self.pids.or(fallback.pids),
            cpu_percent: self.cpu_percent.or(fallback.cpu_percent),
            network: self.network.or(fallback.network),
            sandbox: self.sandbox.or(fallback.sandbox),
        }
    }

    /// Whether any of it is set.
    pub fn is_set(&self) -> bool {
        *self != Isolation::default()
    }

    /// Whether it asks for a control group.
    pub(crate) fn wants_cgroup(&self) -> bool {
        self.memory_mb.is_some() || self.pids.is_some() || self.cpu_percent.is_some()
    }

    /// Whether the process gets a network namespace of its own.
    pub(crate) fn private_network(&self) -> bool {
        matches!(self.network, Some(Network::Loopback | Network::None))
    }

    /// Checks the values (errors name the option as JS spells it), and
    /// with the workspace's `transport`, that the bridge can reach it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`]: a limit of 0, `processes` without
    /// `user`, a user other than the bridge's when the bridge is not root,
    /// a private network over TCP, or any isolation off Linux.
    pub(crate) fn validate(&self, wherein: &str, transport: Option<TransportKind>) -> Result<()> {
        if !self.is_set() {
            return Ok(());
        }
        let invalid = |message: String| {
            Err(Error::InvalidArgument(format!(
                "{wherein}: isolation.{message}"
            )))
        };
        if !cfg!(target_os = "linux") {
            return invalid("is supported on Linux only".into());
        }
        for (name, value) in [
            ("addressSpaceMb", self.address_space_mb),
            ("openFiles", self.open_files),
            ("processes", self.processes),
            ("cpuSeconds", self.cpu_seconds),
            ("memoryMb", self.memory_mb),
            ("pids", self.pids),
            ("cpuPercent", self.cpu_percent),
        ] {
            if value == Some(0) {
                return invalid(format!("{name} must be at least 1"));
            }
        }
        if self.processes.is_some() && self.user.is_none() {
            return invalid(
                "processes needs user: RLIMIT_NPROC counts every process of the uid, the bridge's own included".into(),
            );
        }
        if let Some(User::Id(0)) = self.user {
            return invalid("user must not be 0 (root)".into());
        }
        if self.user.is_some() && !is_root() {
            return invalid(
                "user needs the bridge to run as root (to change a process's user)".into(),
            );
        }
        if (self.private_network() || self.sandbox.is_some() || self.wants_cgroup()) && !is_root() {
            return invalid(
                "network, sandbox and the control group limits need the bridge to run as root"
                    .into(),
            );
        }
        if let (Some(network), true, Some(TransportKind::Http)) =
            (self.network, self.private_network(), transport)
        {
            return invalid(format!(
                "network '{}' needs transport 'unix' or 'stdio': the bridge cannot reach a TCP port in the workspace's own network namespace",
                network.as_str()
            ));
        }
        Ok(())
    }
}

fn is_root() -> bool {
    #[cfg(unix)]
    // SAFETY: geteuid has no preconditions.
    return unsafe { libc::geteuid() } == 0;
    #[cfg(not(unix))]
    false
}

/// Why a limit ended a workspace's process; `data.reason` of its
/// `WORKSPACE_CRASHED` errors and of its `crash` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitReason {
    /// The control group's memory limit (the OOM killer).
    Memory,
    /// The control group's process limit.
    Pids,
    /// The CPU time limit (`SIGXCPU`).
    Cpu,
}

impl LimitReason {
    /// `memory_limit`, `pids_limit` or `cpu_limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitReason::Memory => "memory_limit",
            LimitReason::Pids => "pids_limit",
            LimitReason::Cpu => "cpu_limit",
        }
    }
}

/// A workspace's [`Isolation`] resolved: its uid and gid chosen.
#[derive(Debug, Clone)]
pub(crate) struct Confinement {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub isolation: Isolation,
}

/// One resource limit: the `RLIMIT_*` name (for the fork server), the
/// resource, and the value (soft; the hard limit is the same, or one more
/// second of CPU time so that `SIGXCPU` comes first).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rlimit {
    pub name: &'static str,
    #[cfg(target_os = "linux")]
    pub resource: nix::sys::resource::Resource,
    pub soft: u64,
    pub hard: u64,
}

impl Confinement {
    /// `isolation` resolved for one workspace; `auto_uid` gives the uid of
    /// `user: 'auto'`. `None` when nothing is set.
    pub(crate) fn resolve(
        isolation: &Isolation,
        auto_uid: impl FnOnce(u32) -> u32,
    ) -> Option<Confinement> {
        if !isolation.is_set() {
            return None;
        }
        let uid = match isolation.user {
            Some(User::Id(uid)) => Some(uid),
            Some(User::Auto) => Some(auto_uid(isolation.uid_base.unwrap_or(DEFAULT_UID_BASE))),
            None => None,
        };
        Some(Confinement {
            uid,
            gid: isolation.group.or(uid),
            isolation: isolation.clone(),
        })
    }

    /// The resource limits to set.
    #[cfg(target_os = "linux")]
    pub(crate) fn rlimits(&self) -> Vec<Rlimit> {
        use nix::sys::resource::Resource;
        const MIB: u64 = 1024 * 1024;
        let iso = &self.isolation;
        [
            (
                "RLIMIT_AS",
                Resource::RLIMIT_AS,
                iso.address_space_mb.map(|mb| (mb * MIB, mb * MIB)),
            ),
            (
                "RLIMIT_NOFILE",
                Resource::RLIMIT_NOFILE,
                iso.open_files.map(|n| (n, n)),
            ),
            (
                "RLIMIT_NPROC",
                Resource::RLIMIT_NPROC,
                iso.processes.map(|n| (n, n)),
            ),
            (
                "RLIMIT_CPU",
                Resource::RLIMIT_CPU,
                iso.cpu_seconds.map(|s| (s, s + 1)),
            ),
        ]
        .into_iter()
        .filter_map(|(name, resource, value)| {
            value.map(|(soft, hard)| Rlimit {
                name,
                resource,
                soft,
                hard,
            })
        })
        .collect()
    }

    /// Before a start: hands `dir` (when given) to the workspace's user and
    /// creates the process's control group, named after `workspace`.
    ///
    /// # Errors
    ///
    /// Why it cannot (a directory that cannot be handed over, no writable
    /// control group hierarchy), for `START_FAILED`.
    #[cfg(target_os = "linux")]
    pub(crate) fn prepare(
        &self,
        workspace: &str,
        dir: Option<&Path>,
    ) -> std::result::Result<Prepared, String> {
        if let (Some(uid), Some(dir)) = (self.uid, dir) {
            hand_over(dir, uid, self.gid.unwrap_or(uid))
                .map_err(|e| format!("isolation: handing {} to uid {uid}: {e}", dir.display()))?;
        }
        let cgroup = if self.isolation.wants_cgroup() {
            Some(
                cgroup::Cgroup::create(workspace, &self.isolation)
                    .map_err(|e| format!("isolation: control group: {e}"))?,
            )
        } else {
            None
        };
        let procs = match &cgroup {
            Some(cgroup) => cgroup
                .open_procs()
                .map_err(|e| format!("isolation: control group: {e}"))?,
            None => Vec::new(),
        };
        Ok(Prepared {
            uid: self.uid,
            gid: self.gid,
            rlimits: self.rlimits(),
            network: self.isolation.network.unwrap_or(Network::Host),
            sandbox: self.isolation.sandbox,
            procs,
            confined: Confined {
                cgroup,
                cpu_limited: self.isolation.cpu_seconds.is_some(),
                sandboxed: self.isolation.sandbox.is_some(),
                owned_dir: None,
            },
        })
    }

    /// A directory of its own for the workspace's Unix socket inside the
    /// bridge's socket directory (`parent`, made traversable, 0711), mode
    /// 0700, owned by its user: for a workspace with a user of its own, or
    /// sandboxed (the sandbox binds this directory, not the bridge's).
    /// `None` for the others.
    #[cfg(target_os = "linux")]
    pub(crate) fn socket_dir(&self, parent: &Path, name: &str) -> std::io::Result<Option<PathBuf>> {
        use std::os::unix::fs::PermissionsExt;
        if self.uid.is_none() && self.isolation.sandbox.is_none() {
            return Ok(None);
        }
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711))?;
        let dir = parent.join(name);
        std::fs::create_dir(&dir)?;
        if let Some(uid) = self.uid {
            std::os::unix::fs::chown(&dir, Some(uid), Some(self.gid.unwrap_or(uid)))?;
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(Some(dir))
    }
}

/// Brings the loopback interface of this process's network namespace up
/// (`SIOCGIFFLAGS`, then `SIOCSIFFLAGS` with `IFF_UP`): system calls only.
#[cfg(target_os = "linux")]
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: socket(2), ioctl(2) on a zeroed ifreq naming "lo", close(2).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        let mut outcome = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request);
        if outcome == 0 {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            outcome = libc::ioctl(fd, libc::SIOCSIFFLAGS, &request);
        }
        let error = std::io::Error::last_os_error();
        libc::close(fd);
        if outcome != 0 {
            return Err(error);
        }
    }
    Ok(())
}

/// Makes `uid:gid` the owner of `dir` and everything in it (symbolic links
/// themselves, not what they point to), and `dir` mode 0700.
#[cfg(target_os = "linux")]
fn hand_over(dir: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
        if std::fs::symlink_metadata(path)?.is_dir() {
            for entry in std::fs::read_dir(path)? {
                walk(&entry?.path(), uid, gid)?;
            }
        }
        Ok(())
    }
    walk(dir, uid, gid)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// What one start of a confined process needs: the values the new process
/// applies to itself, and what outlives the start ([`Confined`]).
#[cfg(target_os = "linux")]
pub(crate) struct Prepared {
    uid: Option<u32>,
    gid: Option<u32>,
    rlimits: Vec<Rlimit>,
    network: Network,
    sandbox: Option<Sandbox>,
    /// The control group's `cgroup.procs` files, open for writing.
    procs: Vec<std::os::fd::OwnedFd>,
    confined: Confined,
}

/// Never made off Linux, where isolation is refused.
#[cfg(not(target_os = "linux"))]
pub(crate) enum Prepared {}

#[cfg(target_os = "linux")]
impl Prepared {
    /// Whether the process runs as a user of its own.
    pub(crate) fn changes_user(&self) -> bool {
        self.uid.is_some()
    }

    /// The step a spawned process runs between `fork` and `exec`: join the
    /// control group (write `0`, "this process", to each `cgroup.procs`),
    /// set the resource limits, enter a network namespace of its own (its
    /// loopback interface up for [`Network::Loopback`]), drop supplementary
    /// groups, set the group, then the user (unless sandboxed: bwrap needs
    /// root to build the sandbox, and `setpriv` inside it changes the user;
    /// see [`Prepared::sandboxed`]). Only system calls on values made
    /// before the fork.
    pub(crate) fn pre_exec(&self) -> impl FnMut() -> std::io::Result<()> + Send + Sync + 'static {
        use std::os::fd::AsRawFd;
        let procs: Vec<i32> = self.procs.iter().map(AsRawFd::as_raw_fd).collect();
        let rlimits = self.rlimits.clone();
        let network = self.network;
        let (uid, gid) = if self.sandbox.is_some() {
            (None, None)
        } else {
            (self.uid, self.gid)
        };
        move || {
            for &fd in &procs {
                // SAFETY: write(2) on a descriptor open in this process.
                if unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for limit in &rlimits {
                nix::sys::resource::setrlimit(limit.resource, limit.soft, limit.hard)?;
            }
            if network != Network::Host {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
                if network == Network::Loopback {
                    loopback_up()?;
                }
            }
            if let Some(gid) = gid {
                nix::unistd::setgroups(&[])?;
                nix::unistd::setgid(nix::unistd::Gid::from_raw(gid))?;
            }
            if let Some(uid) = uid {
                nix::unistd::setuid(nix::unistd::Uid::from_raw(uid))?;
            }
            Ok(())
        }
    }

    /// With a sandbox: the `bwrap` command line that runs `program` with
    /// `args` in it, `writable` the directories it may write (each bound
    /// read-write at its own path), `readable` more that a private `/tmp`
    /// would hide (the interpreter's venv), `cwd` its working directory.
    /// Inside, `setpriv` drops to the workspace's user and group (and
    /// clears the supplementary groups); without a user, bwrap drops every
    /// capability of root. `None` without a sandbox.
    pub(crate) fn sandboxed(
        &self,
        program: &std::ffi::OsStr,
        args: &[std::ffi::OsString],
        writable: &[&Path],
        readable: &[&Path],
        cwd: Option<&Path>,
    ) -> Option<(&'static str, Vec<std::ffi::OsString>)> {
        let Sandbox::Bubblewrap = self.sandbox?;
        let mut argv: Vec<std::ffi::OsString> = [
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--perms",
            "1777",
            "--tmpfs",
            PRIVATE_DIRS[0],
            "--perms",
            "1777",
            "--tmpfs",
            PRIVATE_DIRS[1],
            "--die-with-parent",
        ]
        .map(Into::into)
        .into();
        for (flag, paths) in [("--ro-bind", readable), ("--bind", writable)] {
            for path in paths {
                // bwrap makes the missing parents of a mount point in the
                // private /tmp mode 0700, which the user could not cross.
                let mut parents: Vec<&Path> = path
                    .ancestors()
                    .skip(1)
                    .filter(|p| {
                        PRIVATE_DIRS
                            .iter()
                            .any(|d| p.starts_with(d) && *p != Path::new(d))
                    })
                    .collect();
                parents.reverse();
                for parent in parents {
                    argv.extend([
                        "--perms".into(),
                        "0755".into(),
                        "--dir".into(),
                        parent.as_os_str().to_owned(),
                    ]);
                }
                argv.extend([
                    flag.into(),
                    path.as_os_str().to_owned(),
                    path.as_os_str().to_owned(),
                ]);
            }
        }
        if let Some(cwd) = cwd {
            argv.extend(["--chdir".into(), cwd.as_os_str().to_owned()]);
        }
        match (self.uid, self.gid) {
            (Some(uid), gid) => argv.extend(
                [
                    "--".to_owned(),
                    "setpriv".to_owned(),
                    format!("--reuid={uid}"),
                    format!("--regid={}", gid.unwrap_or(uid)),
                    "--clear-groups".to_owned(),
                    "--".to_owned(),
                ]
                .map(Into::into),
            ),
            (None, _) => argv.extend(["--cap-drop", "ALL", "--"].map(Into::into)),
        }
        argv.push(program.to_owned());
        argv.extend(args.iter().cloned());
        Some(("bwrap", argv))
    }

    /// The same steps for the fork server's child, as the fork request's
    /// `isolation`: `{"cgroupProcs": [path], "rlimits": {"RLIMIT_AS":
    /// [soft, hard]}, "network": "host" | "loopback" | "none", "gid": n,
    /// "uid": n}`.
    pub(crate) fn fork_request(&self) -> serde_json::Value {
        let rlimits: serde_json::Map<String, serde_json::Value> = self
            .rlimits
            .iter()
            .map(|l| (l.name.to_owned(), serde_json::json!([l.soft, l.hard])))
            .collect();
        let procs: Vec<String> = self
            .confined
            .cgroup
            .iter()
            .flat_map(|c| c.procs_files())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        serde_json::json!({
            "cgroupProcs": procs,
            "rlimits": rlimits,
            "network": self.network.as_str(),
            "uid": self.uid,
            "gid": self.gid,
        })
    }

    /// What outlives the start, for the process's handle; `owned_dir` is
    /// removed with it.
    pub(crate) fn into_confined(self, owned_dir: Option<PathBuf>) -> Confined {
        let mut confined = self.confined;
        confined.owned_dir = owned_dir;
        confined
    }
}

/// A running confined process's control group and limits, kept by its
/// handle: tells which limit ended it, and removes the control group (and
/// the directory it was given) when dropped.
#[derive(Default)]
pub(crate) struct Confined {
    #[cfg(target_os = "linux")]
    cgroup: Option<cgroup::Cgroup>,
    cpu_limited: bool,
    /// Run by bwrap, whose exit status is 128 + the signal that ended
    /// what it ran.
    sandboxed: bool,
    owned_dir: Option<PathBuf>,
}

impl Confined {
    /// Nothing but `owned_dir`, removed when dropped.
    pub(crate) fn owning(owned_dir: Option<PathBuf>) -> Confined {
        let mut confined = Confined::default();
        confined.owned_dir = owned_dir;
        confined
    }

    /// Which limit ended the process that exited with `status` (`exit
    /// status N` or `signal N`), if one did.
    pub(crate) fn limit_reason(&self, status: &str) -> Option<LimitReason> {
        let sigxcpu = if self.sandboxed {
            format!("exit status {}", 128 + libc::SIGXCPU)
        } else {
            format!("signal {}", libc::SIGXCPU)
        };
        if self.cpu_limited && status == sigxcpu {
            return Some(LimitReason::Cpu);
        }
        #[cfg(target_os = "linux")]
        if let Some(cgroup) = &self.cgroup {
            if cgroup.oom_kills() > 0 {
                return Some(LimitReason::Memory);
            }
            if cgroup.pids_max_events() > 0 {
                return Some(LimitReason::Pids);
            }
        }
        None
    }
}

impl Drop for Confined {
    fn drop(&mut self) {
        if let Some(dir) = &self.owned_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_overrides_the_bridge_field_by_field() {
        let bridge = Isolation {
            user: Some(User::Auto),
            memory_mb: Some(512),
            pids: Some(100),
            ..Default::default()
        };
        let workspace = Isolation {
            memory_mb: Some(256),
            ..Default::default()
        };
        let merged = workspace.or(&bridge);
        assert_eq!(merged.user, Some(User::Auto));
        assert_eq!(merged.memory_mb, Some(256));
        assert_eq!(merged.pids, Some(100));
        assert!(merged.wants_cgroup());
        assert!(!Isolation::default().is_set());
    }

    #[test]
    fn values_are_checked_and_named_as_js_spells_them() {
        let refused = |isolation: Isolation| {
            isolation
                .validate("workspace \"w\"", None)
                .unwrap_err()
                .to_string()
        };
        assert!(refused(Isolation {
            cpu_percent: Some(0),
            ..Default::default()
        })
        .contains("isolation.cpuPercent must be at least 1"));
        assert!(refused(Isolation {
            processes: Some(5),
            ..Default::default()
        })
        .contains("isolation.processes needs user"));
        assert!(refused(Isolation {
            user: Some(User::Id(0)),
            ..Default::default()
        })
        .contains("must not be 0"));
        assert!(Isolation::default().validate("w", None).is_ok());
        assert!(Isolation {
            open_files: Some(64),
            ..Default::default()
        }
        .validate("w", None)
        .is_ok());
        let offline = Isolation {
            network: Some(Network::None),
            ..Default::default()
        };
        if is_root() {
            assert!(offline.validate("w", Some(TransportKind::Unix)).is_ok());
            assert!(offline
                .validate("w", Some(TransportKind::Http))
                .unwrap_err()
                .to_string()
                .contains("needs transport 'unix' or 'stdio'"));
        }
    }

    #[test]
    fn an_auto_user_gets_a_uid_from_its_base_and_its_own_group() {
        let auto = Isolation {
            user: Some(User::Auto),
            uid_base: Some(300_000),
            ..Default::default()
        };
        let confinement = Confinement::resolve(&auto, |base| base + 7).expect("set");
        assert_eq!(
            (confinement.uid, confinement.gid),
            (Some(300_007), Some(300_007))
        );
        let fixed = Isolation {
            user: Some(User::Id(1234)),
            group: Some(99),
            ..Default::default()
        };
        let confinement = Confinement::resolve(&fixed, |_| unreachable!()).expect("set");
        assert_eq!((confinement.uid, confinement.gid), (Some(1234), Some(99)));
        assert!(Confinement::resolve(&Isolation::default(), |_| unreachable!()).is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_cpu_limit_sets_a_hard_limit_one_second_past_the_soft_one() {
        let iso = Isolation {
            cpu_seconds: Some(3),
            open_files: Some(64),
            ..Default::default()
        };
        let rlimits = Confinement::resolve(&iso, |b| b).expect("set").rlimits();
        let cpu = rlimits
            .iter()
            .find(|l| l.name == "RLIMIT_CPU")
            .expect("cpu");
        assert_eq!((cpu.soft, cpu.hard), (3, 4));
        let files = rlimits
            .iter()
            .find(|l| l.name == "RLIMIT_NOFILE")
            .expect("files");
        assert_eq!((files.soft, files.hard), (64, 64));
    }

    #[test]
    fn sigxcpu_is_the_cpu_limit_only_when_one_is_set() {
        let status = format!("signal {}", libc::SIGXCPU);
        let mut limited = Confined::default();
        limited.cpu_limited = true;
        assert_eq!(limited.limit_reason(&status), Some(LimitReason::Cpu));
        assert_eq!(limited.limit_reason("signal 9"), None);
        assert_eq!(Confined::default().limit_reason(&status), None);
    }
}
