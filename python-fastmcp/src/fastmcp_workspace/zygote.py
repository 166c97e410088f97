"""Fork server: ``python -m fastmcp_workspace.zygote``, one per interpreter.

Imports everything a hub needs once, freezes what it holds, then forks one
child per workspace on request, so that a workspace starts without paying
the imports (about a second) and its pages of the imported code stay shared
with the fork server's (copy-on-write). The design follows CPython's
``multiprocessing`` forkserver and gunicorn's ``--preload``: the parent
imports and never serves; each child is a hub as ``python -m
fastmcp_workspace`` would run it.

Control
    File descriptor 0 is a Unix stream socket to the bridge's core; end of
    file on it (the core closed it or died) ends the fork server. The core
    sends one request per line, a JSON object, with three file descriptors
    attached (``SCM_RIGHTS``): the child's stdin, stdout and stderr::

        {"id": 1, "argv": ["--dir", "...", "--port", "0"],
         "env": {"PATH": "..."}, "cwd": "/srv",
         "isolation": {"cgroupProcs": ["/sys/fs/cgroup/.../cgroup.procs"],
                       "rlimits": {"RLIMIT_CPU": [10, 11]},
                       "network": "loopback",
                       "gid": 200000, "uid": 200000}}

    ``isolation`` is optional (see :func:`confine`).

    The fork server answers ``{"id": 1, "pid": 4242}`` once forked (or
    ``{"id": 1, "error": "..."}``) and reports each child's end when it
    reaps it: ``{"exited": 4242, "status": "exit status 0"}`` (or
    ``"signal 9"``). Nothing else is written to the socket; the fork
    server's own log lines go to stderr, and it never writes to stdout.

The child
    Leads a new session and process group (``setsid``), takes the three
    descriptors as its stdin, stdout and stderr and closes every other one,
    applies the request's isolation (control group, resource limits, user
    and group: :func:`confine`) before anything of the workspace runs,
    gets exactly the environment and working directory of the request (the
    fork server's own environment is not passed on; FastMCP's settings,
    which it reads at import, are read again), and then runs the hub's
    ``main`` with ``argv``. It leaves with ``os._exit``, never returning into
    the fork server's code. Each child reseeds :mod:`random` (CPython does
    it after ``fork``) and OpenSSL's generator (OpenSSL 1.1.1 and later
    detect the fork). What children share with each other is what they
    inherit: the fork server's ``hash()`` seed and memory layout (ASLR);
    workspaces that must not share them use the ``spawn`` launcher.

A child outlives the fork server: it is not killed when the fork server
dies, and it still ends when the core goes, because its stdin (a pipe from
the core) closes then and the hub exits at end of file on stdin.

Fork safety
    Nothing here starts a thread, an event loop or a socket before forking:
    :func:`check_fork_safe` fails the start loudly otherwise. The modules
    loaded are the hub's own and those listed in ``preload.txt`` beside this
    file (learned from a real first call by ``python -m
    fastmcp_workspace.zygote --learn``); a module that fails to import is
    skipped.
"""

from __future__ import annotations

import argparse
import collections
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

PRELOAD_LIST = Path(__file__).with_name("preload.txt")
"""Modules imported before forking, one per line, beyond the hub's own."""
MAX_REQUEST_BYTES = 1 << 20
"""Largest request line (bytes); a longer one ends the fork server."""
FDS_PER_REQUEST = 3
REFILL_IDLE_S = 0.1
"""The warm pool is filled again once no request came for this long (s):
a fork made while a child starts would take a core from it."""


class ForkSafetyError(RuntimeError):
    """Something started a thread before the fork server forks."""


def describe(status: int) -> str:
    """``exit status N`` or ``signal N``, as the core words a process's end."""
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def preload(names: list[str]) -> tuple[int, list[str]]:
    """Imports the hub and ``names``; returns how many modules are loaded and
    the names that failed to import."""
    import fastmcp_workspace.__main__  # noqa: F401  the hub and all it imports

    for optional in ("uvloop", "httptools"):
        try:
            importlib.import_module(optional)
        except ImportError:
            pass
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # a module that cannot load alone is not needed
            failed.append(name)
    return len(sys.modules), failed


def warm_up() -> None:
    """Builds and drops a hub with one tool, serving nothing.

    What building one fills once (pydantic's schema machinery, FastMCP's
    docstring parsing, which imports griffe for the first tool with a
    docstring, Starlette's routing, ``typing`` caches, …) is then the fork
    server's, shared with every child rather than built again in each.
    Starts no thread, event loop or socket.
    """
    import tempfile

    from fastmcp_workspace.__main__ import MCP_PATH
    from fastmcp_workspace.config import parse_config
    from fastmcp_workspace.server import build_hub

    with tempfile.TemporaryDirectory() as tmp:
        hub = build_hub(parse_config({"name": "warm-up"}, Path(tmp)))

        @hub.mcp.tool
        def echo(text: str) -> str:
            """Returns the text unchanged.

            Args:
                text: Any text.
            """
            return text

        hub.mcp.http_app(path=MCP_PATH)


def check_fork_safe() -> None:
    """Raises :class:`ForkSafetyError` when more than one thread runs."""
    if threading.active_count() != 1:
        names = ", ".join(t.name for t in threading.enumerate())
        raise ForkSafetyError(f"a thread runs before forking: {names}")


def confine(isolation: dict[str, Any]) -> None:
    """Applies a workspace's isolation to this process, in this order:
    joins its control group (``0``, "this process", written to each
    ``cgroup.procs``; needs root), sets each resource limit (``[soft,
    hard]`` by ``RLIMIT_*`` name), enters a network namespace of its own
    (``network`` ``"loopback"``: its loopback interface up; ``"none"``:
    down), drops the supplementary groups and sets the group, then the
    user. The core's spawned processes take the same steps between
    ``fork`` and ``exec``.
    """
    import resource

    for path in isolation.get("cgroupProcs") or ():
        with open(path, "w") as procs:
            procs.write("0")
    for name, (soft, hard) in (isolation.get("rlimits") or {}).items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    network = isolation.get("network") or "host"
    if network != "host":
        _private_network(loopback=network == "loopback")
    gid = isolation.get("gid")
    if gid is not None:
        os.setgroups([])
        os.setgid(gid)
    uid = isolation.get("uid")
    if uid is not None:
        os.setuid(uid)


CLONE_NEWNET = 0x40000000
"""``unshare(2)``'s flag for a new network namespace (linux/sched.h)."""
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
"""Interface flag requests and the "up" flag (linux/sockios.h, linux/if.h)."""


def _private_network(loopback: bool) -> None:
    """Moves this process into a new network namespace (root only); brings
    its loopback interface up when ``loopback``, else leaves it down."""
    import ctypes
    import fcntl
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(CLONE_NEWNET): {os.strerror(error)}")
    if loopback:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _reload_settings() -> None:
    """Reads FastMCP's settings again from the child's own environment.

    ``fastmcp.settings`` is built at import from the environment of the fork
    server; modules hold references to that object, so it is updated in
    place.
    """
    import fastmcp

    fresh = type(fastmcp.settings)()
    fastmcp.settings.__dict__.update(fresh.__dict__)


def _child(request: dict[str, Any], fds: list[int]) -> None:
    """Becomes the workspace's hub; never returns."""
    code = 1
    try:
        # Back to what a new interpreter has (SIGPIPE stays ignored, as
        # Python sets it at startup and the fork server never changes it).
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        if request.get("isolation"):
            confine(request["isolation"])
        os.chdir(request.get("cwd") or "/")
        os.environ.clear()
        os.environ.update(request.get("env") or {})
        _reload_settings()
        from fastmcp_workspace.__main__ import main

        code = main(list(request["argv"]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _pooled(channel: socket.socket) -> None:
    """A pre-forked child of the warm pool: waits on ``channel`` for its
    fork request (one JSON line, with its three file descriptors on the
    first byte), then becomes that workspace's hub as a freshly forked child
    would (:func:`_child`: its own session, isolation, environment and
    directory); ends at once when the channel closes (the fork server is
    gone). Never returns.
    """
    try:
        # Only the channel and stderr stay open: holding the control socket
        # or another pooled child's channel would keep its peer from seeing
        # the fork server end.
        keep = channel.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)  # in place of the control socket
        os.close(null)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        data, fds = b"", []
        while not data.endswith(b"\n"):
            chunk, more, _flags, _addr = socket.recv_fds(channel, 65536, FDS_PER_REQUEST)
            if not chunk:
                os._exit(0)
            data += chunk
            fds.extend(more)
            if len(data) > MAX_REQUEST_BYTES:
                os._exit(1)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    _child(json.loads(data), fds)


class ForkServer:
    """The control loop: fork requests in, pids and child ends out.

    With ``prewarm`` > 0 it keeps that many children forked ahead (the warm
    pool, see :func:`_pooled`): a fork request goes to the oldest of them,
    which saves the fork and the interpreter-level start of a child; the
    pool is filled again once no request came for ``REFILL_IDLE_S``. A
    pooled child is reported like any other when it ends.
    """

    def __init__(self, control: socket.socket, prewarm: int = 0) -> None:
        self.control = control
        self.buffer = b""
        self.fds: list[int] = []
        self.children: set[int] = set()
        self.wakeup_r, self.wakeup_w = os.pipe()
        os.set_blocking(self.wakeup_w, False)
        self.prewarm = prewarm
        self.pool: collections.deque[tuple[int, socket.socket]] = collections.deque()

    def refill(self) -> None:
        """Forks pooled children until there are ``prewarm``."""
        while len(self.pool) < self.prewarm:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            check_fork_safe()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _pooled(theirs)
            theirs.close()
            self.children.add(pid)
            self.pool.append((pid, ours))

    def send(self, message: dict[str, Any]) -> None:
        self.control.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    def serve(self) -> int:
        """Runs until the control socket closes; returns the exit status."""
        signal.set_wakeup_fd(self.wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.refill()
        with selectors.DefaultSelector() as selector:
            selector.register(self.control, selectors.EVENT_READ, self.on_control)
            selector.register(self.wakeup_r, selectors.EVENT_READ, self.on_signal)
            while True:
                short = len(self.pool) < self.prewarm
                events = selector.select(REFILL_IDLE_S if short else None)
                if not events:
                    self.refill()
                for key, _ in events:
                    if not key.data():
                        return 0

    def on_signal(self) -> bool:
        os.read(self.wakeup_r, 4096)
        self.reap()
        return True

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.pool = collections.deque((p, c) for p, c in self.pool if p != pid)
            self.send({"exited": pid, "status": describe(status)})

    def on_control(self) -> bool:
        data, fds, _flags, _addr = socket.recv_fds(self.control, 65536, 16)
        self.fds.extend(fds)
        if not data:
            return False
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.fork(json.loads(line))
        if len(self.buffer) > MAX_REQUEST_BYTES:
            raise ValueError("request line too long")
        return True

    def fork(self, request: dict[str, Any]) -> None:
        fds, self.fds = self.fds[:FDS_PER_REQUEST], self.fds[FDS_PER_REQUEST:]
        try:
            if len(fds) != FDS_PER_REQUEST:
                raise ValueError(f"expected {FDS_PER_REQUEST} file descriptors, got {len(fds)}")
            pid = self.hand_to_pooled(request, fds)
            if pid is None:
                check_fork_safe()
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(request, fds)
                self.children.add(pid)
            self.send({"id": request["id"], "pid": pid})
        except Exception as exc:
            self.send({"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"})
        finally:
            for fd in fds:
                os.close(fd)

    def hand_to_pooled(self, request: dict[str, Any], fds: list[int]) -> int | None:
        """Sends ``request`` and ``fds`` to the oldest pooled child; its pid,
        or ``None`` when the pool is empty (or every pooled child is gone)."""
        line = json.dumps(request, separators=(",", ":")).encode() + b"\n"
        while self.pool:
            pid, channel = self.pool.popleft()
            with channel:
                try:
                    socket.send_fds(channel, [line[:1]], fds)
                    channel.sendall(line[1:])
                    return pid
                except OSError:
                    continue  # it died; the next one, or a fork
        return None


def learn(out: Path) -> int:
    """Writes the modules a hub holds after serving its first tool call.

    Runs a real hub (spawned: a process of its own) on a
    temporary workspace with one tool, calls it over MCP, and asks the hub
    for ``sys.modules`` through a tool of the workspace.
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "probe.py").write_text(
            "import sys\n"
            "def register(mcp):\n"
            "    @mcp.tool\n"
            "    def echo(text: str) -> str:\n"
            "        \"\"\"Returns the text unchanged.\n\n"
            "        Args:\n"
            "            text: Any text.\n"
            "        \"\"\"\n"
            "        return text\n"
            "    @mcp.tool\n"
            "    def modules() -> list[str]:\n"
            "        return sorted(sys.modules)\n"
        )
        Path(tmp, "workspace.json").write_text(json.dumps({"tools": ["probe"]}))
        hub = subprocess.Popen(
            [sys.executable, "-m", "fastmcp_workspace", "--dir", tmp, "--port", "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = json.loads(hub.stdout.readline())["url"]
            names = _call_modules(url)
        finally:
            hub.terminate()
            hub.wait(10)
    hub_only = sorted(n for n in names if not n.startswith(("probe", "__main__")))
    out.write_text("".join(f"{name}\n" for name in hub_only))
    print(f"{len(hub_only)} modules written to {out}")
    return 0


def _call_modules(url: str) -> list[str]:
    """Calls ``echo`` (the first call), then ``modules``, with the MCP client."""
    import asyncio

    from fastmcp import Client

    async def run() -> list[str]:
        async with Client(url) as client:
            await client.call_tool("echo", {"text": "x"})
            result = await client.call_tool("modules", {})
            return list(result.data)

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    """Runs the fork server on the control socket at fd 0."""
    parser = argparse.ArgumentParser(prog="fastmcp_workspace.zygote", description=__doc__.split("\n")[0])
    parser.add_argument("--learn", action="store_true", help=f"write {PRELOAD_LIST.name} from a real first call")
    parser.add_argument("--prewarm", type=int, default=0, metavar="N", help="children kept forked ahead (default 0)")
    args = parser.parse_args(argv)
    if args.learn:
        return learn(PRELOAD_LIST)
    control = socket.socket(fileno=0)
    names = PRELOAD_LIST.read_text().split() if PRELOAD_LIST.exists() else []
    loaded, failed = preload(names)
    warm_up()
    check_fork_safe()
    gc.collect()
    gc.freeze()
    sys.stderr.write(
        f"fastmcp_workspace.zygote: {loaded} modules loaded"
        + (f", {len(failed)} skipped ({', '.join(failed[:5])})" if failed else "")
        + "\n"
    )
    sys.stderr.flush()
    try:
        return ForkServer(control, prewarm=max(0, args.prewarm)).serve()
    except (BrokenPipeError, ConnectionResetError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
