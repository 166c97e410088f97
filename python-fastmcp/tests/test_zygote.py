"""The fork server (``fastmcp_workspace.zygote``) over its real control
socket: a fork request gives a hub child with its own environment and
stdio that prints its ready line and serves; its end is reported with its
status; a malformed request is answered with an error and the server goes
on; end of file on the control socket ends the server but not its
children; a thread started before forking fails the start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import read_line

from fastmcp_workspace import zygote


@pytest.fixture
def server(request):
    """A running fork server and our end of its control socket (with a warm
    pool of ``request.param`` children when parametrized)."""
    prewarm = getattr(request, "param", 0)
    ours, theirs = socket.socketpair()
    process = subprocess.Popen(
        [sys.executable, "-m", "fastmcp_workspace.zygote", f"--prewarm={prewarm}"],
        stdin=theirs,
        stderr=subprocess.PIPE,
        env={"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1", "ZYGOTE_OWN": "1"},
    )
    theirs.close()
    ours.settimeout(30)
    yield process, ours
    ours.close()
    process.kill()
    process.wait(10)


def answer(control: socket.socket) -> dict:
    """The next message of the fork server."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = control.recv(1)
        assert chunk, "the fork server closed its control socket"
        line += chunk
    return json.loads(line)


def fork(control: socket.socket, request: dict) -> tuple[dict, int, object, int]:
    """Sends a fork request; returns the answer, our end of the child's
    stdin, its stdout as a text stream, and the read end of its stderr."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    socket.send_fds(control, [json.dumps(request).encode() + b"\n"], [in_r, out_w, err_w])
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    return answer(control), in_w, os.fdopen(out_r), err_r


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, left to a parent that has not reaped
    it yet, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def echo_workspace(tmp_path: Path) -> Path:
    (tmp_path / "env_tools.py").write_text(
        "import os\n"
        "def register(mcp):\n"
        "    @mcp.tool\n"
        "    def env() -> dict:\n"
        "        return dict(os.environ)\n"
    )
    (tmp_path / "workspace.json").write_text(json.dumps({"tools": ["env_tools"]}))
    return tmp_path


def call_env(url: str) -> dict:
    import asyncio

    from fastmcp import Client

    async def run() -> dict:
        async with Client(url) as client:
            return (await client.call_tool("env", {})).data

    return asyncio.run(run())


def test_a_forked_child_is_a_hub_with_its_own_environment_and_its_end_is_reported(server, tmp_path):
    process, control = server
    dir = echo_workspace(tmp_path)
    request = {"id": 7, "argv": ["--dir", str(dir), "--port", "0"], "env": {"PATH": os.environ["PATH"], "MINE": "x"}, "cwd": str(tmp_path)}
    reply, stdin, stdout, stderr = fork(control, request)
    assert reply["id"] == 7 and reply["pid"] > 0
    ready = json.loads(read_line(stdout, 30))
    assert ready["event"] == "ready"
    env = call_env(ready["url"])
    assert env["MINE"] == "x"
    assert "ZYGOTE_OWN" not in env  # the fork server's own environment stays its own
    os.close(stdin)  # the hub exits at end of file on stdin
    assert answer(control) == {"exited": reply["pid"], "status": "exit status 0"}
    os.close(stderr)


def test_a_malformed_request_is_answered_with_an_error_and_the_server_goes_on(server, tmp_path):
    _process, control = server
    control.sendall(json.dumps({"id": 1, "argv": []}).encode() + b"\n")  # no descriptors
    reply = answer(control)
    assert reply["id"] == 1 and "expected 3 file descriptors" in reply["error"]
    request = {"id": 2, "argv": ["--dir", str(tmp_path / "missing")], "env": {}, "cwd": "/"}
    reply, stdin, stdout, stderr = fork(control, request)
    assert reply["id"] == 2 and reply["pid"] > 0
    assert answer(control) == {"exited": reply["pid"], "status": "exit status 2"}
    errors = os.read(stderr, 65536).decode()
    assert "fastmcp_workspace: error:" in errors
    for fd in (stdin, stderr):
        os.close(fd)


def test_end_of_file_on_the_control_socket_ends_the_server_but_not_its_children(server, tmp_path):
    process, control = server
    request = {"id": 1, "argv": ["--dir", str(echo_workspace(tmp_path)), "--port", "0"], "env": {}, "cwd": "/"}
    reply, stdin, stdout, stderr = fork(control, request)
    json.loads(read_line(stdout, 30))
    control.close()
    assert process.wait(10) == 0
    child = reply["pid"]
    assert alive(child)
    os.close(stdin)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not alive(child):
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child did not exit at end of file on its stdin")
    os.close(stderr)


def test_a_thread_before_forking_is_refused():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="intruder")
    thread.start()
    try:
        with pytest.raises(zygote.ForkSafetyError, match="intruder"):
            zygote.check_fork_safe()
    finally:
        stop.set()
        thread.join()
    zygote.check_fork_safe()


def test_exit_statuses_are_worded_as_the_core_words_them():
    assert zygote.describe(0) == "exit status 0"
    assert zygote.describe(2 << 8) == "exit status 2"
    assert zygote.describe(signal.SIGKILL) == "signal 9"


def test_after_the_warm_up_a_child_builds_a_documented_tool_without_importing(tmp_path):
    # A fresh interpreter, as the fork server is: this test process has
    # imported more than a fork server would.
    (tmp_path / "documented.py").write_text(
        "def register(mcp):\n"
        "    @mcp.tool\n"
        "    def shout(text: str, times: int = 1) -> str:\n"
        '        """Returns the text in capitals.\n\n'
        "        Args:\n"
        "            text: Any text.\n"
        "            times: How often.\n"
        '        """\n'
        "        return text.upper() * times\n"
    )
    (tmp_path / "workspace.json").write_text(json.dumps({"tools": ["documented"]}))
    script = (
        "import sys\n"
        "from fastmcp_workspace import zygote\n"
        "zygote.preload(zygote.PRELOAD_LIST.read_text().split())\n"
        "zygote.warm_up()\n"
        "before = set(sys.modules)\n"
        "from fastmcp_workspace.config import load_config\n"
        "from fastmcp_workspace.server import build_hub\n"
        f"build_hub(load_config({str(tmp_path)!r}, None)).mcp.http_app(path='/mcp')\n"
        "print(sorted(set(sys.modules) - before - {'documented'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def children(pid: int) -> set[int]:
    """The running children of ``pid``."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split() if alive(int(child))}


def wait_for(check, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("server", [2], indirect=True)
def test_a_warm_pool_hands_a_request_to_a_child_forked_ahead_and_ends_with_the_server(server, tmp_path):
    process, control = server
    wait_for(lambda: len(children(process.pid)) == 2)
    pooled = children(process.pid)
    request = {"id": 3, "argv": ["--dir", str(echo_workspace(tmp_path)), "--port", "0"], "env": {"PATH": os.environ["PATH"], "MINE": "y"}, "cwd": str(tmp_path)}
    reply, stdin, stdout, stderr = fork(control, request)
    assert reply["pid"] in pooled, "the request went to a new fork, not to the pool"
    env = call_env(json.loads(read_line(stdout, 30))["url"])
    assert env["MINE"] == "y" and "ZYGOTE_OWN" not in env
    assert Path(f"/proc/{reply['pid']}/cwd").resolve() == tmp_path.resolve()
    # Filled again: the workspace plus two pooled children.
    wait_for(lambda: len(children(process.pid) - {reply["pid"]}) == 2)
    refilled = children(process.pid) - {reply["pid"]}
    process.kill()
    process.wait(10)
    wait_for(lambda: not any(alive(pid) for pid in refilled))
    assert alive(reply["pid"]), "a workspace outlives the fork server"
    os.close(stdin)
    wait_for(lambda: not alive(reply["pid"]))
    os.close(stderr)
