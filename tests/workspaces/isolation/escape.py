"""Tools that try to leave their workspace's isolation (tests/isolation.test.js).

Each reports what happened instead of raising, so that the test sees a
contained attempt as a result; an attempt that ends the process (a limit
that kills) is seen as the call's error.
"""

import os
import resource
import socket
import time


def register(mcp):
    @mcp.tool
    def whoami() -> dict:
        """The process's user, group, groups, HOME and working directory."""
        return {
            "uid": os.getuid(),
            "gid": os.getgid(),
            "groups": os.getgroups(),
            "home": os.environ.get("HOME"),
            "cwd": os.getcwd(),
        }

    @mcp.tool
    def read_file(path: str) -> str:
        """The file's text, or the error reading it."""
        try:
            with open(path) as f:
                return f.read()
        except OSError as exc:
            return f"error: {type(exc).__name__}: {exc.strerror}"

    @mcp.tool
    def write_file(path: str, text: str) -> str:
        """``written``, or the error writing the file."""
        try:
            with open(path, "w") as f:
                f.write(text)
            return "written"
        except OSError as exc:
            return f"error: {type(exc).__name__}: {exc.strerror}"

    @mcp.tool
    def fork_until_refused(limit: int = 2000, exit_when_refused: bool = False) -> dict:
        """Forks children that wait, until a fork fails or ``limit``; then
        ends them all. Returns how many it forked and the failure, or with
        ``exit_when_refused`` ends the process (as a program that cannot
        go on without its worker would)."""
        children, error = [], None
        try:
            while len(children) < limit:
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children.append(pid)
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc.strerror}"
        finally:
            for pid in children:
                os.kill(pid, 9)
            for pid in children:
                os.waitpid(pid, 0)
        if error and exit_when_refused:
            os._exit(75)
        return {"forked": len(children), "error": error}

    @mcp.tool
    def allocate(mb: int) -> str:
        """Fills ``mb`` MiB of memory (every page written); ``allocated``,
        or the ``MemoryError``."""
        try:
            block = b"x" * (mb * 1024 * 1024)
            return f"allocated {len(block) // (1024 * 1024)} MiB"
        except MemoryError:
            return "error: MemoryError"

    @mcp.tool
    def spin(seconds: float) -> dict:
        """Keeps a core busy for ``seconds`` of wall time; returns the CPU
        time it got, in s."""
        start, cpu = time.monotonic(), time.process_time()
        while time.monotonic() - start < seconds:
            pass
        return {"wall": time.monotonic() - start, "cpu": time.process_time() - cpu}

    @mcp.tool
    def connect(port: int) -> str:
        """``connected`` to 127.0.0.1:port, or the error."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return "connected"
        except OSError as exc:
            return f"error: {type(exc).__name__}: {exc.strerror or exc}"

    @mcp.tool
    def loopback_echo() -> str:
        """Listens on 127.0.0.1 and connects to itself: ``echoed``, or the
        error."""
        try:
            with socket.create_server(("127.0.0.1", 0)) as server:
                port = server.getsockname()[1]
                with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
                    peer, _ = server.accept()
                    with peer:
                        client.sendall(b"ping")
                        return "echoed" if peer.recv(4) == b"ping" else "garbled"
        except OSError as exc:
            return f"error: {type(exc).__name__}: {exc.strerror or exc}"

    @mcp.tool
    def limits() -> dict:
        """The process's soft resource limits."""
        names = ("RLIMIT_AS", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CPU")
        return {name: resource.getrlimit(getattr(resource, name))[0] for name in names}
