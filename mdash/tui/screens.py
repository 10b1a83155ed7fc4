"""The dashboard's other screens: help, a zoomed panel, the canary form, the rollback confirmation and export.

Canary and rollback call the same action layer as the CLI and notebook (``app.actions``); nothing here builds a
request itself. Long calls run in a daemon thread; the canary's progress is sampled by a UI timer, never pushed.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, ProgressBar, Static

from mdash.fmt import fmt_value
from mdash.panels import PanelSpec, Snapshot
from mdash.render import to_csv, to_json
from mdash.tui.app import in_daemon_thread
from mdash.tui.view import PanelView
from mdash.tui.widgets import PALETTE, STATE_LABEL, PanelCard

HELP = """\
[b]Keys[/b]
  q  quit               p  pause / resume       r  refresh now
  +  refresh slower     -  refresh faster       t  range 5m..24h
  /  filter panels (esc clears)     tab, shift+tab  next, previous panel
  enter  zoom the panel (esc back)  1-9  switch model tab
  c  canary: test traffic judged against the baseline
  b  rollback: shows the exact request, asks for the model name
  e  export snapshot JSON + CSV and an SVG screenshot
  ctrl+p  command palette           ?  this help

[b]Panels[/b]
  [green]ok[/green]  [yellow]warn[/yellow]  [red]crit[/red]  [red]ERROR[/red] with the source's own error text
  no data: nothing came back        STALE 42s: last good data, dimmed
  Stable and canary share a tab: stable left, canary right.
  Only the panels on screen are fetched; paused, nothing is."""


class HelpScreen(ModalScreen):
    """Keys and what the panel colours mean."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Label("mdash help", classes="dialog-title")
            yield Static(HELP)
            yield Label("esc: close", classes="hint")


class ZoomScreen(Screen):
    """One panel full-screen, with last/min/max/mean of each series; live while it is open."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Back"), Binding("q", "app.quit", "Quit")]

    def __init__(self, key: str, spec: PanelSpec) -> None:
        super().__init__()
        self.key = key
        self.spec = spec
        self.card = PanelCard(spec, id="zoom-card")
        self.stats = Static(id="zoom-stats")

    def compose(self) -> ComposeResult:
        yield Label(f"{self.spec.model} · {self.spec.group} · {self.spec.title}", classes="dialog-title")
        yield self.card
        yield self.stats
        yield Footer(compact=True, show_command_palette=False)

    def show(self, view: PanelView) -> None:
        """Draw a new view of the zoomed panel and its per-series statistics (mounted or not yet)."""
        self.card.show(view)
        table = Table(box=None, expand=False, pad_edge=False)
        for col in ("series", "last", "min", "max", "mean"):
            table.add_column(col, justify="left" if col == "series" else "right")
        for i, (legend, values) in enumerate(view.series):
            finite = values[np.isfinite(values)]
            stats = [finite[-1], finite.min(), finite.max(), finite.mean()] if len(finite) else [None] * 4
            table.add_row(Text(legend or self.spec.title, style=PALETTE[i % len(PALETTE)]),
                          *(fmt_value(None if v is None else float(v), self.spec.unit) for v in stats))
        state = STATE_LABEL.get(view.state, "ok")
        thresholds = ", ".join(f"{n} {fmt_value(v, self.spec.unit)}" for n, v in
                               (("warn", self.spec.warn), ("crit", self.spec.crit)) if v is not None)
        caption = Text(f"state {state}" + (f" · thresholds {thresholds} ({self.spec.better} is better)" if thresholds else ""))
        if view.error:
            caption.append(f"\n{view.error}", style="red")
        if view.anomaly_reason:
            caption.append(f"\nanomaly: {view.anomaly_reason}", style="yellow")
        self.stats.update(Text.assemble(caption, "\n") if not view.series else _stack(caption, table))


def _stack(caption: Text, table: Table) -> Any:
    from rich.console import Group

    return Group(caption, table)


def _row(label: str, widget: Any) -> Horizontal:
    return Horizontal(Label(label, classes="field-label"), widget, classes="field")


class CanaryScreen(ModalScreen):
    """The canary form: settings in, a live progress bar and running numbers, then the verdict with reasons."""

    BINDINGS = [Binding("escape", "close", "Close (cancels a running canary)")]
    AUTO_FOCUS = "#c-endpoint"  # the app's own AUTO_FOCUS (a panel card) finds nothing here: keys went nowhere

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()
        self.progress: dict[str, Any] = {}
        self.report: Any = None
        self.running = False
        self._timer: Any = None

    def compose(self) -> ComposeResult:
        target, baseline = self.app.current_models()
        configs = self.app.model_configs()
        endpoint = getattr(configs.get(target), "endpoint", None) or ""
        base = getattr(configs.get(baseline), "endpoint", None) or getattr(configs.get(target), "baseline", None) or ""
        with Vertical(classes="dialog", id="canary"):
            yield Label(f"Canary · {target or 'endpoint'}", classes="dialog-title")
            yield _row("endpoint", Input(endpoint, id="c-endpoint", compact=True))
            yield _row("baseline", Input(base, placeholder="none: judge against thresholds", id="c-baseline", compact=True))
            served = getattr(configs.get(target), "served_name", None) or ""
            yield _row("model", Input(served, placeholder="model name at the endpoint", id="c-model", compact=True))
            yield _row("requests", Input("200", id="c-requests", compact=True, type="integer"))
            yield _row("concurrency", Input("8", id="c-concurrency", compact=True, type="integer"))
            yield _row("rate /s", Input("", placeholder="blank: as fast as concurrency allows", id="c-rate", compact=True))
            yield _row("dataset", Input("", placeholder="blank: built-in payloads", id="c-dataset", compact=True))
            with Horizontal(classes="buttons"):
                yield Button("Run canary", id="c-run", variant="primary", compact=True)
                yield Button("Close", id="c-close", compact=True)
            yield ProgressBar(id="c-bar", show_eta=False)
            yield Static("", id="c-numbers")
            with VerticalScroll(id="c-result-box"):
                yield Static("", id="c-result")

    def on_mount(self) -> None:
        self.query_one("#c-bar", ProgressBar).display = False
        if self.app.actions.canary is None:
            self._say(Text("the canary engine is not available in this build", style="red"))
            self.query_one("#c-run", Button).disabled = True

    def settings(self) -> dict[str, Any]:
        """The form as keyword arguments for ``mdash.canary.canary`` (blank fields left to its defaults)."""
        def val(name: str) -> str:
            return self.query_one(f"#c-{name}", Input).value.strip()

        kw: dict[str, Any] = {"endpoint": val("endpoint")}
        for name in ("baseline", "model", "dataset"):
            if val(name):
                kw[name] = val(name)
        try:
            if val("requests"):
                kw["requests"] = int(val("requests"))
            if val("concurrency"):
                kw["concurrency"] = int(val("concurrency"))
            if val("rate"):
                kw["rate"] = float(val("rate"))
        except ValueError as err:
            raise ValueError(f"requests and concurrency must be whole numbers, rate a number: {err}") from None
        if not kw["endpoint"]:
            raise ValueError("endpoint is empty: give the canary's inference base URL")
        return kw

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "c-close":
            self.action_close()
        elif event.button.id == "c-run" and not self.running:
            self.start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any field runs the canary, as the Run button does."""
        event.stop()
        if not self.running and not self.query_one("#c-run", Button).disabled:
            self.start()

    def start(self) -> None:
        """Validate the form and run the canary in the background."""
        try:
            kw = self.settings()
        except ValueError as err:
            self._say(Text(str(err), style="red"))
            return
        if self.app.audit_log:
            kw["audit_log"] = self.app.audit_log
        self.running = True
        self.cancel.clear()
        self.progress.clear()
        self.query_one("#c-run", Button).disabled = True
        bar = self.query_one("#c-bar", ProgressBar)
        bar.display = True
        bar.update(total=kw.get("requests"), progress=0)
        self._say(Text("running…", style="dim"))
        self._timer = self.set_interval(0.1, self._show_progress)
        self.app.record("info", "", f"canary started → {kw['endpoint']}")
        self.run_worker(self._run(kw), name="canary", group="canary", exit_on_error=False)

    def _on_progress(self, p: Any) -> None:
        self.progress[getattr(p, "arm", "canary")] = p  # called from the canary's thread: store only

    async def _run(self, kw: dict[str, Any]) -> None:
        canary = self.app.actions.canary
        try:
            self.report = await in_daemon_thread(lambda: canary(progress=self._on_progress, cancel=self.cancel, **kw))
        except Exception as err:  # noqa: BLE001 - shown in the form and the feed
            self._say(Text(f"canary failed: {err}", style="red"))
            self.app.record("crit", "", f"canary failed: {err}")
        else:
            self._show_verdict(self.report)
        finally:
            self.running = False
            if self._timer is not None:
                self._timer.stop()
            self._show_progress()
            self.query_one("#c-run", Button).disabled = False

    def _show_progress(self) -> None:
        if not self.progress:
            return
        arms = list(self.progress.values())
        total = sum(p.total or 0 for p in arms) if all(p.total for p in arms) else None
        self.query_one("#c-bar", ProgressBar).update(total=total, progress=sum(p.done for p in arms))
        text = Text()
        for p in arms:
            text.append(f"{p.arm:<9}", style="bold")
            text.append(f"{p.done}/{p.total or '?'} sent · {p.errors} errors · {p.rps:.1f} req/s · "
                        f"p50 {fmt_value(p.p50_ms, 'ms')} · p99 {fmt_value(p.p99_ms, 'ms')}\n")
        self.query_one("#c-numbers", Static).update(text)

    def _show_verdict(self, report: Any) -> None:
        colour = {"pass": "bold green", "fail": "bold red"}.get(report.verdict, "bold yellow")
        text = Text("verdict ", style="bold")
        text.append(str(report.verdict).upper(), style=colour)
        for m in report.metrics:
            mark = {"pass": ("✓", "green"), "fail": ("✗", "red")}.get(m.verdict, ("?", "yellow"))
            text.append(f"\n{mark[0]} ", style=mark[1])
            text.append(f"{m.name}: ", style="bold")
            text.append(str(m.reason))
        self._say(text)
        level = {"pass": "ok", "fail": "crit"}.get(report.verdict, "warn")
        self.app.record(level, "", f"canary verdict {str(report.verdict).upper()}")

    def _say(self, text: Text) -> None:
        self.query_one("#c-result", Static).update(text)

    def action_close(self) -> None:
        self.cancel.set()
        self.dismiss(self.report)


class RollbackScreen(ModalScreen):
    """Shows exactly what will be sent where (secret redacted) and sends it only after the model name is typed."""

    BINDINGS = [Binding("escape", "dismiss", "Cancel")]

    def __init__(self) -> None:
        super().__init__()
        self.plan: Any = None
        self.outcome: Any = None

    def compose(self) -> ComposeResult:
        target, _ = self.app.current_models()
        with Vertical(classes="dialog", id="rollback"):
            yield Label("Rollback", classes="dialog-title")
            yield _row("model", Input(target, id="r-model", compact=True))
            yield _row("reason", Input("manual rollback from mdash tui", id="r-reason", compact=True))
            with VerticalScroll(id="r-plan-box"):
                yield Static("", id="r-plan")
            yield _row("confirm", Input("", placeholder=f"type {target or 'the model name'} to send", id="r-confirm", compact=True))
            with Horizontal(classes="buttons"):
                yield Button("Send rollback", id="r-send", variant="error", compact=True, disabled=True)
                yield Button("Cancel", id="r-cancel", compact=True)
            yield Static("", id="r-result")

    def on_mount(self) -> None:
        self.replan()
        self.query_one("#r-confirm", Input).focus()

    def _val(self, name: str) -> str:
        return self.query_one(f"#r-{name}", Input).value.strip()

    def replan(self) -> None:
        """Ask the action layer what it would send for this model and reason, and show it verbatim."""
        plan_rollback = self.app.actions.plan_rollback
        self.plan = None
        if plan_rollback is None:
            self.query_one("#r-plan", Static).update(Text("the rollback action is not available in this build", style="red"))
        else:
            try:
                self.plan = plan_rollback(self._val("model"), self._val("reason"), **self.app.rollback_kwargs(self._val("model")))
            except Exception as err:  # noqa: BLE001 - e.g. no [rollback] configured: say so in place
                self.query_one("#r-plan", Static).update(Text(str(err), style="red"))
            else:
                self.query_one("#r-plan", Static).update(plan_text(self.plan))
        self.query_one("#r-confirm", Input).placeholder = f"type {self._val('model') or 'the model name'} to send"
        self._arm()

    def _arm(self) -> None:
        ready = self.plan is not None and bool(self._val("model")) and self._val("confirm") == self._val("model")
        self.query_one("#r-send", Button).disabled = not ready

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("r-model", "r-reason"):
            self.replan()
        else:
            self._arm()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "r-confirm" and not self.query_one("#r-send", Button).disabled:
            self.send()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "r-cancel":
            self.dismiss(self.outcome)
        elif event.button.id == "r-send":
            self.send()

    def send(self) -> None:
        """Run the rollback action, confirmed, in the background."""
        model, reason = self._val("model"), self._val("reason")
        self.query_one("#r-send", Button).disabled = True
        self.query_one("#r-result", Static).update(Text("sending…", style="dim"))
        self.app.record("warn", model, f"rollback requested: {reason}")
        self.run_worker(self._send(model, reason), name="rollback", group="rollback", exit_on_error=False)

    async def _send(self, model: str, reason: str) -> None:
        rollback = self.app.actions.rollback
        try:
            self.outcome = await in_daemon_thread(
                lambda: rollback(model, reason, confirmed=True, readonly=self.app.readonly, audit_log=self.app.audit_log,
                                 **self.app.rollback_kwargs(model)))
        except Exception as err:  # noqa: BLE001 - refused or failed: shown here and in the feed
            self.query_one("#r-result", Static).update(Text(f"rollback not sent: {err}", style="bold red"))
            self.app.record("crit", model, f"rollback failed: {err}")
            return
        o = self.outcome
        ok = bool(getattr(o, "delivered", False))
        line = (f"{'delivered' if ok else 'NOT delivered'} · HTTP {getattr(o, 'status', '?')} · "
                f"{getattr(o, 'attempts', '?')} attempt(s) · event {getattr(o, 'event_id', '?')}")
        message = getattr(o, "message", "")
        self.query_one("#r-result", Static).update(
            Text(line + (f"\n{message}" if message else ""), style="bold green" if ok else "bold red"))
        self.app.record("ok" if ok else "crit", model, f"rollback {line}")


def plan_text(plan: Any) -> Text:
    """A planned request as people read it: method and URL, the body, then the headers (secrets redacted)."""
    text = Text()
    text.append(f"{getattr(plan, 'method', 'POST')} ", style="bold")
    text.append(f"{plan.url}\n", style="bold cyan")
    body = getattr(plan, "body", "")
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        with contextlib.suppress(ValueError):
            body = json.loads(body)
    text.append((body if isinstance(body, str) else json.dumps(body, indent=2, sort_keys=True)) + "\n")
    for name, value in dict(getattr(plan, "headers", {}) or {}).items():
        text.append(f"{name}: ", style="dim")
        text.append(f"{value}\n", style="dim")
    return text


class ExportScreen(ModalScreen):
    """Writes a fresh snapshot of the tab's models (JSON, CSV) and the screen as SVG, and says where."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, svg: str, fetch: Callable[[], Snapshot], directory: Path) -> None:
        super().__init__()
        self.svg = svg
        self.fetch = fetch
        self.directory = directory
        self.written: list[Path] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export"):
            yield Label("Export", classes="dialog-title")
            yield _row("directory", Input(str(self.directory.resolve()), id="x-dir", compact=True))
            with Horizontal(classes="buttons"):
                yield Button("Write files", id="x-write", variant="primary", compact=True)
                yield Button("Close", id="x-close", compact=True)
            yield Static("writes every panel of this tab (JSON, CSV) and the screen you were on (SVG)",
                         id="x-result")

    def on_mount(self) -> None:
        self.query_one("#x-write", Button).focus()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.write()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "x-close":
            self.dismiss(self.written)
        else:
            self.write()

    def write(self) -> None:
        """Fetch the snapshot in the background, then write the files (named by the time)."""
        directory = Path(self.query_one("#x-dir", Input).value.strip() or ".").expanduser()
        self.query_one("#x-result", Static).update(Text("fetching every panel…", style="dim"))
        self.run_worker(self._write(directory), name="export", group="export", exit_on_error=False)

    async def _write(self, directory: Path) -> None:
        stem = "mdash-" + time.strftime("%Y%m%d-%H%M%S")
        files = {".svg": self.svg}
        problem = ""
        try:
            snap = await in_daemon_thread(self.fetch)
            files[".json"], files[".csv"] = to_json(snap), to_csv(snap)
        except Exception as err:  # noqa: BLE001 - the screenshot is still worth writing
            problem = f"no snapshot ({err}): only the screenshot"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.written = []
            for suffix, content in files.items():
                path = directory / f"{stem}{suffix}"
                path.write_text(content, encoding="utf-8")
                self.written.append(path.resolve())
        except OSError as err:
            self.query_one("#x-result", Static).update(Text(f"could not write to {directory}: {err}", style="red"))
            return
        text = Text(f"written to {directory.resolve()}:\n", style="bold green")
        for path in self.written:
            text.append(f"  {path.name}\n")
        if problem:
            text.append(problem, style="yellow")
        self.query_one("#x-result", Static).update(text)
        self.app.record("info", "", f"exported to {directory.resolve()}/{stem}.*")
