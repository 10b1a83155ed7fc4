"""CPU of the ``mdash tui`` process at a 1 s refresh inside tmux, plus its time to first screen and first data.

    python bench/tui_cpu.py [--quick]

The demo stack (with a real Prometheus when one is installed) runs in this process and mdash reads it through a
config file, so the measured process is the TUI alone. The peer is a bare Textual app in the same kind of tmux
pane that updates one line every second: the floor any Textual UI pays for being alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SIZE = ("120", "40")
PEER = """
from datetime import datetime
from textual.app import App
from textual.widgets import Footer, Static
class Clock(App):
    def compose(self):
        yield Static("peer", id="t")
        yield Footer()
    def on_mount(self):
        self.set_interval(1, lambda: self.query_one("#t").update(f"peer {datetime.now():%H:%M:%S}"))
Clock().run()
"""
DATA = re.compile(r"latency \d")  # a panel title carrying a value: data has arrived and been drawn


class Pane:
    """One command in a private tmux server (own socket in a temp folder, removed on close); the pane's process is
    the command itself."""

    def __init__(self, command: str) -> None:
        self.folder = tempfile.mkdtemp(prefix="mdash-bench-")
        self.socket = os.path.join(self.folder, "tmux")
        self.started = time.perf_counter()
        self.tmux("new-session", "-d", "-s", "b", "-x", SIZE[0], "-y", SIZE[1], f"exec {command}")
        self.process = psutil.Process(int(self.tmux("display-message", "-p", "-t", "b", "#{pane_pid}").strip()))

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], check=True, capture_output=True, text=True).stdout

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60) -> float:
        """Seconds from spawn until the screen matches (polled every 10 ms)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if pattern.search(self.tmux("capture-pane", "-p", "-t", "b")):
                return time.perf_counter() - self.started
            time.sleep(0.01)
        raise TimeoutError(f"screen never matched {pattern.pattern!r}")

    def cpu_percent(self, seconds: float) -> float:
        """CPU of the pane's process over ``seconds``, in % of one core."""
        before = self.process.cpu_times()
        t0 = time.perf_counter()
        time.sleep(seconds)
        after = self.process.cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        return 100 * used / (time.perf_counter() - t0)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)
        with contextlib.suppress(psutil.NoSuchProcess):
            self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def write_config(stack, path: Path) -> None:
    """The demo stack's Config as an mdash.toml (TOML basic strings are JSON strings)."""
    config = stack.config()
    lines = []
    if config.prometheus:
        lines += ["[prometheus]", f"url = {json.dumps(config.prometheus.url)}", ""]
    lines += ["[refresh]", 'interval = "1s"', 'range = "15m"', ""]
    for m in config.models:
        lines.append("[[models]]")
        for key in ("name", "endpoint", "metrics", "preset", "selector", "version", "served_name", "baseline"):
            if getattr(m, key, None):
                lines.append(f"{key} = {json.dumps(getattr(m, key))}")
        lines.append("")
    path.write_text("\n".join(lines))


def run(quick: bool) -> list[dict]:
    from mdash.demo.stack import DemoStack

    seconds = 15.0 if quick else 60.0
    spawns = 3 if quick else 7  # start-up times are medians over this many fresh processes
    with DemoStack() as stack, tempfile.TemporaryDirectory() as tmp:
        stack.wait_for_data(30)
        config = Path(tmp) / "mdash.toml"
        write_config(stack, config)
        command = f"{sys.executable} -m mdash tui --config {config} --audit-log {tmp}/audit.jsonl"
        screens, datas = [], []
        for i in range(spawns):
            tui = Pane(command)
            try:
                screens.append(tui.wait_for(re.compile(r"mdash (connecting|http)")))  # the first paint
                datas.append(tui.wait_for(DATA))
                if i < spawns - 1:
                    continue
                time.sleep(3)  # past start-up work
                samples = [tui.cpu_percent(seconds / 3) for _ in range(3)]
            finally:
                tui.close()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(PEER)
    peer_screens = []
    try:
        for i in range(spawns):
            peer = Pane(f"{sys.executable} {script.name}")
            try:
                peer_screens.append(peer.wait_for(re.compile(r"peer")))
                if i < spawns - 1:
                    continue
                time.sleep(3)
                peer_samples = [peer.cpu_percent(seconds / 3) for _ in range(3)]
            finally:
                peer.close()
    finally:
        os.unlink(script.name)
    first_screen, first_data = statistics.median(screens), statistics.median(datas)
    peer_screen = statistics.median(peer_screens)
    cpu, peer_cpu = statistics.median(samples), statistics.median(peer_samples)
    return [
        {"measure": f"TUI CPU, % of one core (1 s refresh, {SIZE[0]}x{SIZE[1]} tmux, {seconds:.0f} s)",
         "mdash": cpu, "peer": peer_cpu, "ratio": cpu / peer_cpu if peer_cpu else None, "goal": "<= 5",
         "met": cpu <= 5},
        {"measure": f"TUI first screen, s from spawn (incl. Python start-up; median of {spawns})", "mdash": first_screen,
         "peer": peer_screen, "ratio": first_screen / peer_screen, "goal": "<= 0.5", "met": first_screen <= 0.5},
        {"measure": f"TUI first data, s from spawn (local Prometheus; median of {spawns})", "mdash": first_data, "peer": None,
         "ratio": None, "goal": "<= 1.5", "met": first_data <= 1.5},
    ]


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import bench_main  # bench/run.py: the same flags and table for every benchmark

    return bench_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
