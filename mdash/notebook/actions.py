"""Canary and rollback from the notebook: a small form with a progress bar, and a button that wants the model's name.

Both call the same action layer as the CLI and TUI (``mdash.canary.canary``, ``mdash.actions.rollback``), run it in
an executor thread so the kernel stays responsive, and touch widgets only on the kernel's loop.
"""

from __future__ import annotations

import asyncio
import html
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from mdash.errors import MdashError

RED, GREEN, GREY = "#c62828", "#2e7d32", "#757575"


def _note(text: str, color: str = GREY) -> str:
    return f"<span style='color:{color}'>{html.escape(text)}</span>"


class CanaryForm(widgets.VBox):
    """Endpoint, baseline, requests and concurrency, a Run/Cancel pair, a progress bar, and the report below."""

    def __init__(self, *, runner: Callable[..., Any] | None = None, **defaults: Any) -> None:
        self.runner = runner
        self.extra = {k: v for k, v in defaults.items() if k not in ("endpoint", "baseline", "requests", "concurrency")}
        self.endpoint = widgets.Text(description="canary", value=defaults.get("endpoint") or "", placeholder="http://…")
        self.baseline = widgets.Text(description="baseline", value=defaults.get("baseline") or "", placeholder="http://…")
        self.requests = widgets.BoundedIntText(description="requests", value=defaults.get("requests") or 200, min=10, max=1_000_000)
        self.concurrency = widgets.BoundedIntText(description="concurrency", value=defaults.get("concurrency") or 8, min=1, max=512)
        self.run_button = widgets.Button(description="Run canary", icon="play", button_style="primary")
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self.bar = widgets.IntProgress(value=0, min=0, max=1, description="progress")
        self.status = widgets.HTML(_note("not run yet"))
        self.output = widgets.Output()
        self.report: Any = None
        self._cancel: threading.Event | None = None
        self._arms: dict[str, Any] = {}
        self.run_button.on_click(lambda _: asyncio.ensure_future(self.run()))
        self.cancel_button.on_click(lambda _: self.cancel())
        super().__init__(
            [
                widgets.HBox([self.endpoint, self.baseline]),
                widgets.HBox([self.requests, self.concurrency, self.run_button, self.cancel_button]),
                self.bar,
                self.status,
                self.output,
            ]
        )

    def settings(self) -> dict[str, Any]:
        """The keyword arguments the form would pass to ``mdash.canary.canary``."""
        return {
            **self.extra,
            "endpoint": self.endpoint.value.strip(),
            "baseline": self.baseline.value.strip() or None,
            "requests": int(self.requests.value),
            "concurrency": int(self.concurrency.value),
        }

    async def run(self) -> Any:
        """Run the canary in a worker thread, updating the bar as it goes; returns (and shows) its Report."""
        loop = asyncio.get_running_loop()
        runner = self.runner
        if runner is None:
            from mdash.canary import canary as runner
        kw = self.settings()
        self._cancel = threading.Event()
        self._arms = {}
        self.bar.value, self.bar.max, self.bar.bar_style = 0, 1, ""
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self.status.value = _note(f"running {kw['requests']} requests against {kw['endpoint']} …")
        self.output.clear_output()

        def progress(p: Any) -> None:
            loop.call_soon_threadsafe(self._progress, p)

        try:
            report = await loop.run_in_executor(
                None, lambda: runner(progress=progress, cancel=self._cancel, **kw)
            )
        except MdashError as exc:
            self.bar.bar_style = "danger"
            self.status.value = _note(str(exc), RED)
            return None
        finally:
            self.run_button.disabled, self.cancel_button.disabled = False, True
        self.report = report
        verdict = getattr(report, "verdict", "?")
        self.bar.bar_style = {"pass": "success", "fail": "danger"}.get(verdict, "warning")
        self.bar.value = self.bar.max
        self.status.value = _note(f"verdict: {verdict}", {"pass": GREEN, "fail": RED}.get(verdict, GREY))
        self.output.append_display_data(report)
        return report

    def _progress(self, p: Any) -> None:
        self._arms[p.arm] = p
        arms = self._arms.values()
        self.bar.max = max(1, sum(a.total or a.done for a in arms))
        self.bar.value = min(self.bar.max, sum(a.done for a in arms))
        lines = []
        for a in arms:
            p99 = "–" if a.p99_ms is None else f"{a.p99_ms:.1f} ms"
            lines.append(f"{a.arm}: {a.done}/{a.total or '?'} · {a.errors} errors · {a.rps:.0f} req/s · p99 {p99}")
        self.status.value = _note(" | ".join(lines))

    def cancel(self) -> None:
        """Ask the running canary to stop early (it still reports on what it measured)."""
        if self._cancel is not None:
            self._cancel.set()


class RollbackPanel(widgets.VBox):
    """A reason box and a Roll back button that shows the exact request, then asks to type the model name."""

    def __init__(
        self,
        model: str,
        *,
        settings: Any = None,
        readonly: bool = False,
        audit_log: str | None = None,
        to_version: str | None = None,
        runner: Callable[..., Any] | None = None,
        planner: Callable[..., Any] | None = None,
    ) -> None:
        self.model = model
        self.kw: dict[str, Any] = {"settings": settings, "to_version": to_version}
        self.readonly, self.audit_log = readonly, audit_log
        self.runner, self.planner = runner, planner
        self.reason = widgets.Text(description="reason", placeholder="why roll back (goes to the audit log)")
        self.rollback_button = widgets.Button(description=f"Roll back {model}…", icon="undo", button_style="danger")
        self.plan = widgets.HTML()
        self.confirm_text = widgets.Text(placeholder=model, description="type name")
        self.confirm_button = widgets.Button(description="Confirm rollback", button_style="danger", disabled=True)
        self.abort_button = widgets.Button(description="Cancel")
        self.confirm_row = widgets.HBox([self.confirm_text, self.confirm_button, self.abort_button])
        self.confirm_row.layout.display = "none"
        self.outcome = widgets.HTML()
        self.result: Any = None
        self.rollback_button.on_click(lambda _: self.ask())
        self.confirm_text.observe(self._typed, "value")
        self.confirm_button.on_click(lambda _: asyncio.ensure_future(self.confirm()))
        self.abort_button.on_click(lambda _: self._hide())
        super().__init__([widgets.HBox([self.reason, self.rollback_button]), self.plan, self.confirm_row, self.outcome])

    def ask(self) -> None:
        """Show the request that would be sent and the confirmation row; nothing is sent yet."""
        from mdash.actions import plan_rollback

        planner = self.planner or plan_rollback
        try:
            planned = planner(self.model, self.reason.value or "(reason not given yet)", **self.kw)
        except MdashError as exc:
            self.outcome.value = _note(str(exc), RED)
            return
        self.plan.value = f"<pre style='font-size:11px;max-height:12em;overflow:auto'>{html.escape(str(planned))}</pre>"
        self.outcome.value = _note(f"type {self.model} and press Confirm to send this request")
        self.confirm_text.value = ""
        self.confirm_row.layout.display = "flex"

    def _typed(self, change: dict) -> None:
        self.confirm_button.disabled = change["new"].strip() != self.model

    def _hide(self) -> None:
        self.confirm_row.layout.display = "none"
        self.plan.value = ""
        self.outcome.value = _note("rollback cancelled; nothing was sent")

    async def confirm(self) -> Any:
        """Send the rollback (only once the typed name matches) and show the Outcome or why it was refused."""
        if self.confirm_text.value.strip() != self.model:
            self.outcome.value = _note(f"type the model name {self.model!r} exactly to confirm", RED)
            return None
        from mdash.actions import rollback

        runner = self.runner or rollback
        self.confirm_button.disabled = True
        self.outcome.value = _note("sending…")
        loop = asyncio.get_running_loop()
        call = lambda: runner(  # noqa: E731 - one call, run in the executor
            self.model, self.reason.value, confirmed=True, readonly=self.readonly, audit_log=self.audit_log, **self.kw
        )
        try:
            outcome = await loop.run_in_executor(None, call)
        except MdashError as exc:
            self.outcome.value = _note(str(exc), RED)
            return None
        finally:
            self.confirm_row.layout.display = "none"
        self.result = outcome
        color = GREEN if outcome.delivered else RED
        self.outcome.value = _note(
            f"{outcome.message} (status {outcome.status}, {outcome.attempts} attempt(s), event {outcome.event_id})", color
        )
        return outcome
