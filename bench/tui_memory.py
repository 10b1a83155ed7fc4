"""RSS of the TUI's refresh loop: growth per 1,000 refreshes and the RSS it extrapolates to after 1 h at 1 s.

    python bench/tui_memory.py [--quick]

The app runs headless (Textual's test driver: same widgets, same rendering) in its own interpreter, reading the
demo stack (run by this process) through a config file, with refreshes driven back to back instead of one a
second. The peer, also in its own interpreter, is a bare Textual app whose only work per refresh is updating one
Static: what any Textual UI pays for the same number of repaints.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZE = (120, 40)
MB = 2**20


def rss() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / MB


async def settle(pilot) -> None:
    await pilot.pause()
    while len(pilot.app.workers):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def mdash_loop(n: int, warm: int, config: str) -> tuple[float, float]:
    """(RSS after warm-up, RSS after n more refreshes) of the real app reading ``config``, in MiB."""
    from mdash.config import load
    from mdash.dashboard import Dashboard
    from mdash.tui.app import Actions, MdashApp

    with Dashboard(load(config)) as dash:
        app = MdashApp(dash, live=False, actions=Actions.real())
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for _ in range(warm):
                app.refresh_data()
                await settle(pilot)
            before = rss()
            for _ in range(n):
                app.refresh_data()
                await settle(pilot)
            return before, rss()


async def peer_loop(n: int, warm: int) -> tuple[float, float]:
    from textual.app import App
    from textual.widgets import Footer, Static

    class Peer(App):
        def compose(self):
            yield Static(id="t")
            yield Footer()

    app = Peer()
    async with app.run_test(size=SIZE) as pilot:
        for i in range(warm):
            app.query_one("#t", Static).update(f"refresh {i}")
            await pilot.pause()
        before = rss()
        for i in range(n):
            app.query_one("#t", Static).update(f"refresh {i}")
            await pilot.pause()
        return before, rss()


def child(args: list[str]) -> tuple[float, float]:
    """Run one loop in a fresh interpreter, so each RSS is that program's alone."""
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    return before, after


def run(quick: bool) -> list[dict]:
    from tui_cpu import write_config

    from mdash.demo.stack import DemoStack

    n, warm = (200, 50) if quick else (1000, 100)
    with DemoStack() as stack, tempfile.TemporaryDirectory() as tmp:
        stack.wait_for_data(30)
        config = Path(tmp) / "mdash.toml"
        write_config(stack, config)
        before, after = child(["mdash", str(n), str(warm), str(config)])
    peer_before, peer_after = child(["peer", str(n), str(warm)])
    growth = (after - before) * 1000 / n
    peer_growth = (peer_after - peer_before) * 1000 / n
    hour = after + max(0.0, growth) * 3.6  # 3,600 refreshes at 1 s
    return [
        {"measure": f"TUI RSS growth, MiB per 1,000 refreshes ({n} run after {warm}, {SIZE[0]}x{SIZE[1]})",
         "mdash": growth, "peer": peer_growth, "ratio": None, "goal": "bounded (~0)", "met": growth < 5},
        {"measure": "TUI RSS after 1 h at 1 s, MiB (measured + growth x 3.6)", "mdash": hour,
         "peer": peer_after, "ratio": hour / peer_after, "goal": "<= 120", "met": hour <= 120},
    ]


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        kind, n, warm, *config = sys.argv[2:]
        loop = mdash_loop(int(n), int(warm), *config) if kind == "mdash" else peer_loop(int(n), int(warm))
        print(json.dumps(asyncio.run(loop)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 refreshes instead of 1,000")
    args = ap.parse_args()
    from run import table

    print(table(run(args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
