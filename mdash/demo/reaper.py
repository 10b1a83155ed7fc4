"""Stop a child process, and remove its scratch folder, when the process that started it dies.

    python -m mdash.demo.reaper PID [FOLDER]

The starter keeps this process's stdin open for as long as it lives. End of file means the starter is gone
(exited, crashed or killed with SIGKILL, where no ``finally`` runs): PID gets SIGTERM, SIGKILL after 10 s, and
FOLDER is removed. A starter that stops PID itself kills the reaper first. The PID is held as a pidfd where Linux
has one, so a recycled PID is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import time

GRACE = 10.0  # seconds between SIGTERM and SIGKILL (Prometheus flushes its head block on SIGTERM)


class Target:
    """A process to signal: by pidfd when the kernel offers one, else by PID."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.fd = os.pidfd_open(pid)

    def wait(self, timeout: float) -> bool:
        """Whether the process ended within ``timeout`` (with a pidfd, an unreaped zombie counts as ended)."""
        if self.fd is not None:
            return bool(select.select([self.fd], [], [], timeout)[0])  # a pidfd turns readable on exit
        deadline = time.monotonic() + timeout
        while self.signal(0):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def signal(self, sig: int) -> bool:
        """Send ``sig``; False when the process is already gone."""
        try:
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2 or not argv[0].isdigit():
        print("usage: python -m mdash.demo.reaper PID [FOLDER]", file=sys.stderr)
        return 2
    target = Target(int(argv[0]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is for the starter, not for us
    while sys.stdin.buffer.read(4096):  # blocks until the starter closes the pipe or dies
        pass
    if target.signal(signal.SIGTERM) and not target.wait(GRACE):
        target.signal(signal.SIGKILL)
        target.wait(5)
    if len(argv) == 2:
        shutil.rmtree(argv[1], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
