"""DemoStack and `mdash demo`: both versions start, faults change at run time, nothing is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import psutil
import pytest
from conftest import killable_starter

from mdash.demo.stack import DemoStack
from mdash.errors import ConfigError

BODY = json.dumps({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]})


def post_infer(url: str) -> int:
    request = urllib.request.Request(f"{url}/v2/models/iris/infer", data=BODY.encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_stack_serves_both_versions_and_stop_leaves_no_process_or_thread():
    threads = set(threading.enumerate())
    stack = DemoStack(prometheus=False, traffic=False).start()
    try:
        pids = list(stack.pids.values())
        assert len(set(pids)) == 2 and not any(gone(p) for p in pids)
        assert post_infer(stack.stable_url) == 200 and post_infer(stack.canary_url) == 200
        models = stack.config().models
        assert [m.name for m in models] == ["iris-stable", "iris-canary"] and stack.config().demo
        assert stack.config().prometheus is None and models[1].baseline == stack.stable_url
    finally:
        stack.stop()
    assert all(gone(p) for p in pids)
    assert set(threading.enumerate()) == threads


def test_set_faults_changes_the_canary_at_run_time_and_rejects_bad_knobs():
    with DemoStack(prometheus=False, traffic=False, canary_errors=1.0) as stack:
        assert post_infer(stack.canary_url) == 500
        stack.set_faults("canary", errors=0)
        assert post_infer(stack.canary_url) == 200
        with pytest.raises(ConfigError, match="must be in"):
            stack.set_faults("canary", noise=3)


def test_bad_fault_values_are_refused_before_anything_starts():
    with pytest.raises(ConfigError, match="canary_errors"):
        DemoStack(canary_errors=1.5)


def test_mdash_demo_stops_on_sigterm_leaving_no_process_behind():
    proc = subprocess.Popen(
        [sys.executable, "-m", "mdash", "demo", "--no-prometheus", "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("press Ctrl-C"):
                break
        assert any(line.startswith("canary ") and "/v2/models/iris/infer" in line for line in lines), lines
        children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        assert len(children) == 2
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert all(gone(p) for p in children)


def test_mdash_demo_refuses_a_bad_rate_with_one_clear_message():
    out = subprocess.run(
        [sys.executable, "-m", "mdash", "demo", "--canary-errors", "2"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2 and "canary_errors" in out.stderr and "Traceback" not in out.stderr


FORKING_STARTER = """
import json, os, time
from mdash.demo.stack import DemoStack
stack = DemoStack(prometheus=False, traffic=False).start()
if os.fork() == 0:  # a forked child holds the servers' stdin pipe open after the starter dies
    time.sleep(60)
    os._exit(0)
print(json.dumps({"pids": sorted({stack._proc.pid, *stack.pids.values()})}), flush=True)
time.sleep(600)
"""


def test_demo_servers_exit_when_their_starter_is_killed_even_if_it_forked():
    with killable_starter(FORKING_STARTER) as (starter, got):
        servers = [psutil.Process(pid) for pid in got["pids"]]
        assert len(servers) == 2 and all(p.is_running() for p in servers)  # the launcher serves stable; canary
        os.kill(starter.pid, signal.SIGKILL)
        gone, alive = psutil.wait_procs(servers, timeout=15)
        assert not alive, f"left running after the starter died: {[p.pid for p in alive]}"
