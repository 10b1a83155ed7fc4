"""Resources of a model process on this machine, read with psutil when its endpoint listens on loopback.

Used when the model server exports no process metrics (e.g. prometheus_client multiprocess mode). The history is
a small ring of (time, CPU %, RSS bytes, read B/s, written B/s) samples taken at each snapshot.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlparse

import pandas as pd
import psutil

from mdash.errors import SourceError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
COLUMNS = ("cpu_percent", "rss_bytes", "read_bytes_per_s", "write_bytes_per_s")


def is_local(url: str | None) -> bool:
    return bool(url) and urlparse(url).hostname in LOCAL_HOSTS


def listening_pid(url: str) -> int | None:
    """The PID of the process listening on the URL's port on this machine, or None (not found, or not allowed)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, PermissionError):
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return c.pid
    return None


class HostProbe:
    """CPU, RSS and disk I/O of one local process, sampled on demand into a bounded history."""

    def __init__(self, pid: int, *, clock: Callable[[], float] = time.time, history: int = 600) -> None:
        try:
            self.process = psutil.Process(pid)
            self.process.cpu_percent(None)  # the first call only primes the counter
        except psutil.Error as err:
            raise SourceError(f"process {pid}: {err}") from None
        self.clock = clock
        self.rows: deque[tuple[float, ...]] = deque(maxlen=history)
        self._last_io: tuple[float, int, int] | None = None

    def sample(self) -> None:
        """Append one sample now; raises SourceError when the process is gone or not readable."""
        now = self.clock()
        try:
            with self.process.oneshot():
                cpu = self.process.cpu_percent(None)
                rss = self.process.memory_info().rss
                io = self.process.io_counters() if hasattr(self.process, "io_counters") else None
        except psutil.Error as err:
            raise SourceError(f"process {self.process.pid}: {err}") from None
        read = write = float("nan")
        if io is not None:
            if self._last_io is not None and now > self._last_io[0]:
                dt = now - self._last_io[0]
                read, write = (io.read_bytes - self._last_io[1]) / dt, (io.write_bytes - self._last_io[2]) / dt
            self._last_io = (now, io.read_bytes, io.write_bytes)
        self.rows.append((now, cpu, float(rss), read, write))

    def frame(self, column: str) -> pd.DataFrame:
        """One column of the history as a panel frame (UTC DatetimeIndex)."""
        i = COLUMNS.index(column) + 1
        index = pd.to_datetime([r[0] for r in self.rows], unit="s", utc=True)
        return pd.DataFrame({column: [r[i] for r in self.rows]}, index=index, dtype=float)
