//! A control group per workspace process, under the bridge's own.
//!
//! The group is made inside the bridge process's own control group
//! (`/proc/self/cgroup`), so that whatever limits the bridge (a container,
//! a systemd unit) still covers its workspaces: with cgroup v2 (a unified
//! hierarchy at `/sys/fs/cgroup` offering the controllers) one directory,
//! `fastmcp-bridge-<pid>/<workspace>-<n>`, whose parent has the
//! `memory`, `pids` and `cpu` controllers enabled for its children; with
//! cgroup v1 one such directory in each of the `memory`, `pids` and `cpu`
//! hierarchies under `/sys/fs/cgroup/<controller>` that the limits need.
//! Files written (Linux, Documentation/admin-guide/cgroup-v2.rst and
//! cgroup-v1/):
//!
//! | limit | v2 | v1 |
//! | --- | --- | --- |
//! | memory | `memory.max`, `memory.swap.max` = 0 | `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` when present |
//! | processes | `pids.max` | `pids.max` |
//! | CPU | `cpu.max` = `<quota> 100000` | `cpu.cfs_period_us` = 100000, `cpu.cfs_quota_us` |
//!
//! and read: the OOM kill counter (`oom_kill` in v2 `memory.events`, v1
//! `memory.oom_control`) and the process limit's (`max` in `pids.events`).
//! Each file is one short line of numbers, read and written whole.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::Isolation;

/// Where cgroup hierarchies are mounted.
const ROOT: &str = "/sys/fs/cgroup";
/// The CPU bandwidth period written with a quota, in µs.
const CPU_PERIOD_US: u64 = 100_000;
/// Numbers the control groups of this process.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// One process's control group: a directory per hierarchy.
pub(crate) struct Cgroup {
    /// The controller (`""` for v2's one directory) and its directory.
    dirs: Vec<(&'static str, PathBuf)>,
    v2: bool,
}

impl Cgroup {
    /// Creates the control group of a process of `workspace` with the
    /// limits of `isolation`.
    ///
    /// # Errors
    ///
    /// No hierarchy with the controllers the limits need, or one that
    /// cannot be written (the bridge is not root, or its control group is
    /// not delegated to it).
    pub(crate) fn create(workspace: &str, isolation: &Isolation) -> io::Result<Cgroup> {
        let name = format!("{workspace}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let parent = format!("fastmcp-bridge-{}", std::process::id());
        let own = own_paths()?;
        let v2 = Path::new(ROOT).join("cgroup.controllers").exists();
        let mut wanted = Vec::new();
        if isolation.memory_mb.is_some() {
            wanted.push("memory");
        }
        if isolation.pids.is_some() {
            wanted.push("pids");
        }
        if isolation.cpu_percent.is_some() {
            wanted.push("cpu");
        }
        let cgroup = if v2 {
            let base =
                Path::new(ROOT).join(relative(own.get("").map(String::as_str).unwrap_or("/")));
            let parent = base.join(&parent);
            create_dir(&parent)?;
            let enable: Vec<String> = wanted.iter().map(|c| format!("+{c}")).collect();
            fs::write(parent.join("cgroup.subtree_control"), enable.join(" ")).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "enabling {} under {}: {e}",
                        wanted.join(", "),
                        parent.display()
                    ),
                )
            })?;
            let dir = parent.join(&name);
            create_dir(&dir)?;
            Cgroup {
                dirs: vec![("", dir)],
                v2,
            }
        } else {
            let mut dirs = Vec::new();
            for controller in wanted {
                let mount = Path::new(ROOT).join(controller);
                if !mount.join("cgroup.procs").exists() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("no cgroup v1 {controller} hierarchy at {}", mount.display()),
                    ));
                }
                let own_path = own.get(controller).map(String::as_str).unwrap_or("/");
                let dir = mount.join(relative(own_path)).join(&parent).join(&name);
                fs::create_dir_all(&dir).map_err(|e| {
                    io::Error::new(e.kind(), format!("creating {}: {e}", dir.display()))
                })?;
                dirs.push((controller, dir));
            }
            Cgroup { dirs, v2 }
        };
        cgroup
            .set_limits(isolation)
            .inspect_err(|_| cgroup.remove())?;
        Ok(cgroup)
    }

    fn set_limits(&self, isolation: &Isolation) -> io::Result<()> {
        const MIB: u64 = 1024 * 1024;
        if let Some(mb) = isolation.memory_mb {
            let bytes = (mb * MIB).to_string();
            if self.v2 {
                self.write("", "memory.max", &bytes)?;
                self.write_if_present("", "memory.swap.max", "0")?;
            } else {
                self.write("memory", "memory.limit_in_bytes", &bytes)?;
                self.write_if_present("memory", "memory.memsw.limit_in_bytes", &bytes)?;
            }
        }
        if let Some(pids) = isolation.pids {
            self.write(
                if self.v2 { "" } else { "pids" },
                "pids.max",
                &pids.to_string(),
            )?;
        }
        if let Some(percent) = isolation.cpu_percent {
            let quota = percent * CPU_PERIOD_US / 100;
            if self.v2 {
                self.write("", "cpu.max", &format!("{quota} {CPU_PERIOD_US}"))?;
            } else {
                self.write("cpu", "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                self.write("cpu", "cpu.cfs_quota_us", &quota.to_string())?;
            }
        }
        Ok(())
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        let wanted = if self.v2 { "" } else { controller };
        self.dirs
            .iter()
            .find(|(c, _)| *c == wanted)
            .map(|(_, d)| d.as_path())
    }

    fn write(&self, controller: &str, file: &str, value: &str) -> io::Result<()> {
        let path = self
            .dir(controller)
            .map(|d| d.join(file))
            .unwrap_or_default();
        fs::write(&path, value).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("writing {value} to {}: {e}", path.display()),
            )
        })
    }

    fn write_if_present(&self, controller: &str, file: &str, value: &str) -> io::Result<()> {
        match self.dir(controller).map(|d| d.join(file)) {
            Some(path) if path.exists() => self.write(controller, file, value),
            _ => Ok(()),
        }
    }

    /// The `cgroup.procs` file of each directory.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|(_, d)| d.join("cgroup.procs"))
            .collect()
    }

    /// Each `cgroup.procs` open for writing (closed on `exec`).
    pub(crate) fn open_procs(&self) -> io::Result<Vec<std::os::fd::OwnedFd>> {
        self.procs_files()
            .into_iter()
            .map(|path| {
                fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map(std::os::fd::OwnedFd::from)
            })
            .collect()
    }

    /// How many processes the OOM killer ended for the memory limit.
    pub(crate) fn oom_kills(&self) -> u64 {
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        self.counter("memory", file, "oom_kill")
    }

    /// How many forks the process limit refused.
    pub(crate) fn pids_max_events(&self) -> u64 {
        self.counter("pids", "pids.events", "max")
    }

    /// The value of `key` in a flat-keyed file (`key value` lines), 0 when
    /// absent.
    fn counter(&self, controller: &str, file: &str, key: &str) -> u64 {
        let Some(dir) = self.dir(controller) else {
            return 0;
        };
        fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    let (name, value) = line.split_once(' ')?;
                    (name == key).then(|| value.trim().parse().ok()).flatten()
                })
            })
            .unwrap_or(0)
    }

    /// Kills every process left in the group (v2: `cgroup.kill`, else
    /// each pid of `cgroup.procs`).
    fn kill_all(&self) {
        if self.v2 {
            if let Some(dir) = self.dir("") {
                if fs::write(dir.join("cgroup.kill"), "1").is_ok() {
                    return;
                }
            }
        }
        for path in self.procs_files() {
            for pid in fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse::<i32>().ok())
            {
                // SAFETY: kill(2) with a positive pid signals that process only.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }

    /// Kills what is left and removes the directories (a directory with a
    /// process that has not died yet is retried for up to 1 s).
    fn remove(&self) {
        self.kill_all();
        for (_, dir) in &self.dirs {
            for _ in 0..50 {
                match fs::remove_dir(dir) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(20))
                    }
                    _ => break,
                }
            }
            if let Some(parent) = dir.parent() {
                // Gone once its last workspace's group is.
                let _ = fs::remove_dir(parent);
            }
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.remove();
    }
}

/// This process's control group path per v1 controller (and `""` for
/// v2), from `/proc/self/cgroup` (`id:controllers:path` lines).
fn own_paths() -> io::Result<std::collections::HashMap<String, String>> {
    let text = fs::read_to_string("/proc/self/cgroup")?;
    let mut paths = std::collections::HashMap::new();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        for controller in controllers.split(',') {
            paths.insert(controller.to_owned(), path.to_owned());
        }
    }
    Ok(paths)
}

fn relative(path: &str) -> &str {
    path.trim_start_matches('/')
}

fn create_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io::Error::new(
            e.kind(),
            format!("creating {}: {e}", dir.display()),
        )),
        _ => Ok(()),
    }
}
