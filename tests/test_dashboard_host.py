"""Local model processes are found by their listening port and sampled with psutil (the resources fallback)."""

from __future__ import annotations

import math

from mdash.demo.prometheus import free_port
from mdash.demo.stack import DemoStack
from mdash.sources.host import HostProbe, is_local, listening_pid


def test_the_demo_server_process_is_found_and_sampled():
    with DemoStack(prometheus=False, traffic=False) as stack:
        pid = listening_pid(stack.stable_url)
        assert pid == stack.pids["stable"]
        now = [1000.0]
        probe = HostProbe(pid, clock=lambda: now[0])
        for _ in range(3):
            probe.sample()
            now[0] += 2
        rss = probe.frame("rss_bytes")
        assert len(rss) == 3 and rss.iloc[-1, 0] > 10 * 2**20  # a Python process with scikit-learn loaded
        assert str(rss.index.tz) == "UTC" and rss.index[-1].timestamp() == 1004.0
        writes = probe.frame("write_bytes_per_s").iloc[:, 0]
        assert math.isnan(writes.iloc[0]) and writes.iloc[1:].ge(0).all()


def test_only_loopback_endpoints_count_as_local_and_a_free_port_has_no_process():
    assert is_local("http://127.0.0.1:8080") and is_local("http://localhost:1")
    assert not is_local("http://10.0.0.5:8080") and not is_local(None)
    assert listening_pid(f"http://127.0.0.1:{free_port()}") is None
