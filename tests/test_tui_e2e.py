"""End to end: ``mdash tui`` on the embedded demo inside a real tmux, read with capture-pane, driven with keys."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import psutil
import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt-get install tmux)")


class Tmux:
    """One private tmux server (its own socket in a temp folder, removed on kill), so the test never touches
    anyone's sessions nor leaves sockets behind in /tmp/tmux-UID."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="mdash-e2e-")
        self.socket = os.path.join(self.folder, "tmux")

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], check=True, capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "e2e")

    def wait_for(self, what: Callable[[str], bool], timeout: float, label: str) -> str:
        """Poll the screen until ``what`` holds (the condition, not a fixed sleep, decides)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if what(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {label}; screen was:\n{text}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.mark.timeout(90)
def test_mdash_tui_runs_the_demo_in_tmux_answers_keys_and_quits_leaving_no_process(tmp_path):
    tmux = Tmux()
    done = tmp_path / "exit-code"
    command = (f"cd {tmp_path} && {sys.executable} -m mdash tui --interval 1s --range 5m "
               f"--audit-log {tmp_path}/audit.jsonl; echo $? > {done}")
    try:
        tmux("new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30", command)
        shell = psutil.Process(int(tmux("display-message", "-p", "-t", "e2e", "#{pane_pid}").strip()))
        text = tmux.wait_for(lambda s: "DEMO DATA" in s and "Performance" in s, 30, "the first screen")
        assert "iris (stable | canary)" in text and "iris-stable" in text and "iris-canary" in text
        tmux.wait_for(lambda s: "updated" in s and " req/s" in s, 45, "live data from the demo")
        family = shell.children(recursive=True)  # mdash, the demo servers, Prometheus
        assert any("mdash" in " ".join(p.cmdline()) for p in family)

        tmux("send-keys", "-t", "e2e", "t")
        tmux.wait_for(lambda s: "range 15m" in s, 10, "t to change the range")
        tmux("send-keys", "-t", "e2e", "?")
        tmux.wait_for(lambda s: "mdash help" in s and "rollback: shows the exact request" in s, 10, "the help")
        tmux("send-keys", "-t", "e2e", "Escape")
        tmux.wait_for(lambda s: "mdash help" not in s, 10, "the help to close")
        tmux("send-keys", "-t", "e2e", "p")
        tmux.wait_for(lambda s: "PAUSED" in s, 10, "p to pause")
        tmux("send-keys", "-t", "e2e", "q")
        deadline = time.monotonic() + 30
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done.exists() and done.read_text().strip() == "0", "mdash tui did not exit cleanly on q"
        gone, alive = psutil.wait_procs(family, timeout=15)
        assert not alive, f"left running: {[(p.pid, p.cmdline()) for p in alive]}"
    finally:
        tmux.kill()


@pytest.mark.timeout(60)
def test_closing_the_terminal_stops_the_demo_it_started(tmp_path):
    tmux = Tmux()
    try:
        tmux("new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24",
             f"cd {tmp_path} && {sys.executable} -m mdash tui --audit-log {tmp_path}/audit.jsonl")
        shell = psutil.Process(int(tmux("display-message", "-p", "-t", "e2e", "#{pane_pid}").strip()))
        tmux.wait_for(lambda s: "DEMO DATA" in s, 30, "the demo to start")
        family = shell.children(recursive=True)
        assert len(family) >= 3  # mdash and the two demo model servers (plus Prometheus when installed)
    finally:
        tmux.kill()  # SIGHUP, as when an SSH session drops
    gone, alive = psutil.wait_procs(family, timeout=20)
    assert not alive, f"left running: {[(p.pid, p.cmdline()) for p in alive]}"
