"""Stop a child process, and remove its scratch folder, when the process that started it dies.

    python -I path/to/reaper.py PID [FOLDER]

Run by path with -I, it imports only the standard library, so it starts wherever the starter found mdash. The
starter keeps this process's stdin open for as long as it lives; the reaper also watches the starter itself (a
pidfd), since a child the starter forked would hold the pipe open after the starter died. Either sign — end of
file or the starter's exit — means the starter is gone (exited, crashed or killed with SIGKILL, where no
``finally`` runs): PID gets SIGTERM, SIGKILL after 10 s, and FOLDER is removed. Once it watches both, it writes
"ready" on stdout. A starter that stops PID itself kills the reaper first. Where Linux has pidfds, the processes
are held by them, so a recycled PID is never signalled.
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
    """A process to watch and signal: by pidfd when the kernel offers one, else by PID."""

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
        """Send ``sig``; False when the process is gone (or its PID now belongs to someone else's process)."""
        try:
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, sig)
            else:
                os.kill(self.pid, sig)
        except OSError:
            return False
        return True


def wait_for_starter(starter: Target) -> None:
    """Block until the starter closes our stdin or exits."""
    watched = [sys.stdin.fileno()] + ([starter.fd] if starter.fd is not None else [])
    while True:
        ready = select.select(watched, [], [])[0]
        if starter.fd in ready or not os.read(sys.stdin.fileno(), 4096):
            return


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2 or not argv[0].isdigit():
        print("usage: python -I reaper.py PID [FOLDER]", file=sys.stderr)
        return 2
    target, starter = Target(int(argv[0])), Target(os.getppid())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is for the starter, not for us
    print("ready", flush=True)
    wait_for_starter(starter)
    if target.signal(signal.SIGTERM) and not target.wait(GRACE):
        target.signal(signal.SIGKILL)
        target.wait(5)
    if len(argv) == 2:
        shutil.rmtree(argv[1], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
