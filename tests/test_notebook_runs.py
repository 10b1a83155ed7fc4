"""The committed notebooks execute top to bottom in a real kernel against the embedded demo, with no errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import psutil
import pytest
from conftest import needs_prometheus
from nbclient import NotebookClient

pytestmark = [needs_prometheus, pytest.mark.timeout(180)]

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "mdash-test"


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """A kernelspec for this interpreter under a temp JUPYTER_PATH, and a temp audit log for the actions."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    work = tmp_path / "work"
    work.mkdir()
    return work


def execute(name: str, cwd: Path, *extra: str) -> nbformat.NotebookNode:
    """Run the notebook (plus ``extra`` cells at its end) in ``cwd``; nbclient raises on the first error."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(src) for src in extra]
    NotebookClient(nb, timeout=120, kernel_name=KERNEL, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def text(cell: nbformat.NotebookNode) -> str:
    """Everything a cell printed or showed as text."""
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
        parts.append(out.get("data", {}).get("text/html", ""))
    return "".join(parts)


@pytest.mark.parametrize("name", ["quickstart", "canary", "analysis"])
def test_committed_notebooks_carry_no_outputs_or_widget_state(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert "widgets" not in nb.metadata


def test_quickstart_runs_shows_the_widget_writes_the_report_and_leaves_no_demo_process(kernel_env):
    pids_cell = (
        "import json\n"
        "s = dash.stack\n"
        "print(json.dumps([*s.pids.values(), s._proc.pid, *([s.prometheus.proc.pid] if s.prometheus else [])]))"
    )
    nb = execute("quickstart", kernel_env, pids_cell)
    show = next(c for c in nb.cells if c.cell_type == "code" and "dash.show()" in c.source)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in show.outputs)
    report = kernel_env / "snapshot_report.html"
    assert report.stat().st_size > 1_000_000  # plotly.js is inlined: the file opens offline
    assert "mdash snapshot" in report.read_text()
    pids = json.loads(nb.cells[-1].outputs[0]["text"])
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], "the demo outlived the kernel"


def test_canary_notebook_catches_the_slow_canary_and_delivers_the_rollback(kernel_env):
    nb = execute("canary", kernel_env)
    cells = {c.source.splitlines()[0]: c for c in nb.cells if c.cell_type == "code"}
    assert "fail" in text(cells["report = await form.run()"]).lower()
    outcome = text(cells['rollback.reason.value = f"canary verdict: {report.verdict}"'])
    assert "delivered=True" in outcome
    audit = text(cells["mdash.actions.read_audit(tail=3)"])
    assert "rollback_result" in audit


def test_analysis_notebook_compares_the_two_versions(kernel_env):
    nb = execute("analysis", kernel_env)
    printed = "".join(text(c) for c in nb.cells if c.cell_type == "code")
    assert "x the stable p99" in printed
