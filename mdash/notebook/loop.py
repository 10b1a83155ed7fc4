"""The refresh loop both notebook views share: an asyncio task on the kernel's loop that never blocks a cell.

Each tick runs the blocking ``Dashboard.snapshot`` in an executor thread, then hands the Snapshot to the view's
``draw`` on the loop's own thread (widgets are only touched there). Controls wake the loop early through
``poke()``, which is safe to call from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mdash.panels import Snapshot


class Refresher:
    """Fetch a snapshot every ``interval`` seconds (unless paused) and pass it to ``draw``."""

    def __init__(
        self,
        fetch: Callable[[], Snapshot],
        draw: Callable[[Snapshot], None],
        *,
        interval: float = 2.0,
        on_error: Callable[[BaseException], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.draw = draw
        self.interval = interval
        self.on_error = on_error
        self.clock = clock
        self.paused = False
        self.ticks = 0  # snapshots drawn
        self.cycles = 0  # loop iterations, drawn or not (paused)
        self.last: Snapshot | None = None
        self.last_fetch_s: float | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mdash-notebook")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def tick(self) -> Snapshot:
        """One refresh: fetch off the loop's thread, then draw on it."""
        loop = asyncio.get_running_loop()
        t0 = self.clock()
        snap = await loop.run_in_executor(self._pool, self.fetch)
        self.last_fetch_s = self.clock() - t0
        self.last = snap
        self.ticks += 1
        self.draw(snap)
        return snap

    def start(self) -> asyncio.Task:
        """Start the loop as a task on the running (kernel's) event loop; a second call is a no-op."""
        if self.running:
            return self._task
        self._loop = _kernel_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._run())
        return self._task

    def poke(self) -> None:
        """Refresh now (or re-read the interval) without waiting for the current sleep to end."""
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def refresh_now(self) -> None:
        """Refresh as soon as possible: wake the running loop, or run a single tick when it is stopped."""
        if self.running:
            self.poke()
        else:
            _kernel_loop().create_task(self._safe_tick())

    def stop(self) -> None:
        """End the loop task; a fetch already in its thread finishes but is not drawn."""
        if self._task is not None and not self._task.done() and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._task = None

    def close(self) -> None:
        """Stop the loop and release its worker thread."""
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self) -> None:
        while True:
            self.cycles += 1
            if not self.paused:
                await self._safe_tick()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)

    async def _safe_tick(self) -> None:
        try:
            await self.tick()
        except Exception as exc:  # a renderer bug must not end the live view; show it instead
            if self.on_error is not None:
                self.on_error(exc)


def _kernel_loop() -> asyncio.AbstractEventLoop:
    """The running loop (a kernel cell, an async test), else the thread's default loop."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.get_event_loop_policy().get_event_loop()
