"""The live dashboard app: a Dashboard's snapshots drawn as tabs of panel cards, refreshed off the UI thread.

One fetch at a time: the refresh timer skips a tick while a fetch is in flight, the fetch runs in a daemon thread
(so a hanging source never blocks a key, nor quitting), and only the panels on screen are asked for. Paused, the
timer stops: nothing is fetched or drawn. Clock and refresh are injected so tests never sleep on wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Static, TabbedContent, TabPane

from mdash.fmt import fmt_age, fmt_duration
from mdash.tui.view import EventLog, PanelView, audit_events
from mdash.tui.widgets import EventFeed, PanelCard, StatusBar

if TYPE_CHECKING:  # mdash.panels imports pandas (~0.3 s): the first screen must not wait for it
    from mdash.panels import PanelSpec, Snapshot

INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
RANGES = (300.0, 900.0, 3600.0, 21600.0, 86400.0)
VERSION_SUFFIXES = ("stable", "canary", "baseline", "candidate", "primary", "shadow", "blue", "green")
CARD_WIDTH = 38  # narrowest useful panel: 6-cell gutter + 28 cells (56 points) + borders


async def in_daemon_thread(fn: Callable[[], Any]) -> Any:
    """Run a blocking call in a daemon thread and await it: cancelling the await abandons the call, so a hung
    source can neither block the UI nor keep the process alive on quit (Textual's thread workers would)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def target() -> None:
        try:
            result, error = fn(), None
        except BaseException as err:  # noqa: BLE001 - handed back to the awaiting task as is
            result, error = None, err

        def deliver() -> None:
            if not future.done():
                future.set_exception(error) if error else future.set_result(result)

        with contextlib.suppress(RuntimeError):  # the app closed while we were fetching
            loop.call_soon_threadsafe(deliver)

    threading.Thread(target=target, name="mdash-tui-call", daemon=True).start()
    return await future


@dataclass
class Actions:
    """The canary and rollback entry points the modals call (injected in tests; None when not installed)."""

    canary: Callable[..., Any] | None = None
    plan_rollback: Callable[..., Any] | None = None
    rollback: Callable[..., Any] | None = None
    read_audit: Callable[..., list[dict]] | None = None

    @classmethod
    def real(cls) -> Actions:
        """mdash's own canary engine and rollback action layer, each imported on its first call: the action layer
        pulls in the config and pandas (~0.3 s), the canary engine aiohttp and scipy (~60 MB), and neither may
        delay the first screen nor weigh on a dashboard that never uses them."""
        return cls(canary=_lazy("mdash.canary", "canary"), plan_rollback=_lazy("mdash.actions", "plan_rollback"),
                   rollback=_lazy("mdash.actions", "rollback"), read_audit=_lazy("mdash.actions", "read_audit"))


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported when first called."""

    def call(*args: Any, **kwargs: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


@dataclass
class Family:
    """A model and its versions (stable and canary side by side), shown as one tab."""

    name: str
    members: list[str]


def families(config_models: Iterable[Any], spec_models: Iterable[str]) -> list[Family]:
    """Group models into tabs: a model whose ``baseline`` names another joins it; else ``name-<version>`` pairs."""
    configs = list(config_models)
    names = [m.name for m in configs]
    base_of: dict[str, str] = {}
    for m in configs:
        version = getattr(m, "version", None)
        suffixes = ((version,) if version else ()) + VERSION_SUFFIXES
        base = next((m.name[: -len(s) - 1] for s in suffixes if m.name.endswith(f"-{s}")), m.name)
        base_of[m.name] = base
    for m in configs:
        baseline = getattr(m, "baseline", None)
        if baseline in names and baseline != m.name:
            base_of[m.name] = base_of[baseline]
    out: dict[str, Family] = {}
    for name in [*names, *spec_models]:
        base = base_of.get(name, name)
        fam = out.setdefault(base, Family(base, []))
        if name not in fam.members:
            fam.members.append(name)
    for fam in out.values():  # the baseline/stable version first, so it is always the left column
        fam.members.sort(key=lambda n: 0 if n.endswith(("-stable", "-baseline", "-primary")) else 1)
    return list(out.values())


class MdashApp(App):
    """The mdash dashboard: header, model tabs, Performance / Resources / Exceptions groups, feed and keys."""

    TITLE = "mdash"
    AUTO_FOCUS = "PanelCard"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("p", "pause", "Pause"),
        Binding("plus,equals_sign", "slower", "Rate", key_display="+-"),  # one footer entry for the pair
        Binding("minus", "faster", "Faster", show=False),
        Binding("t", "range", "Range"),
        Binding("slash", "filter", "Find", key_display="/"),
        Binding("tab", "app.focus_next", "Move", show=False),
        Binding("shift+tab", "app.focus_previous", "Move back", show=False),
        Binding("enter", "zoom", "Zoom", key_display="⏎"),
        Binding("c", "canary", "Canary"),
        Binding("b", "rollback", "Rollback"),
        Binding("e", "export", "Export"),
        Binding("r", "refresh", "Refresh now", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        *(Binding(str(n), f"tab({n - 1})", f"Model tab {n}", show=False) for n in range(1, 10)),
    ]

    def __init__(
        self,
        dashboard: Any = None,
        *,
        connect: Callable[[], Any] | None = None,
        readonly: bool = False,
        interval: float | None = None,
        clock: Callable[[], float] = time.time,
        live: bool = True,
        actions: Actions | None = None,
        export_dir: str | Path = ".",
        audit_log: str | None = None,
    ) -> None:
        """Show ``dashboard``; or paint at once and build it with ``connect`` (blocking, run in a thread: config,
        demo start-up and pandas imports take a second or more), exiting with its error if it raises."""
        super().__init__()
        self.dashboard: Any = None
        self._connect = connect
        self.connect_error: BaseException | None = None
        self._readonly_flag, self._interval_flag = readonly, interval
        self.readonly, self.demo, self.interval = readonly, False, interval or 2.0
        self.clock = clock
        self.live = live
        self.actions = actions if actions is not None else Actions.real()
        self.export_dir = Path(export_dir)
        self.audit_log = audit_log
        self.paused = False
        self.filter_text = ""
        self.events = EventLog()
        self.last_snapshot: Snapshot | None = None
        self.last_ok: float | None = None
        self.fetch_error = ""
        self.fetches = 0
        self._inflight: float | None = None
        self._timer = None
        self.families: list[Family] = []
        self._cards: list[PanelCard] = []  # a model-less panel (e.g. firing alerts) has a card in every tab
        if dashboard is not None:
            self._adopt(dashboard)

    def _adopt(self, dashboard: Any) -> None:
        """Take the dashboard: its config decides read-only, demo banner, interval and the tabs."""
        self.dashboard = dashboard
        config = dashboard.config
        self.readonly = self._readonly_flag or bool(getattr(config, "readonly", False))
        self.demo = bool(getattr(config, "demo", False))
        self.interval = self._interval_flag or float(getattr(config, "interval", 2.0) or 2.0)
        self.families = families(getattr(config, "models", []), [s.model for s in dashboard.specs])

    # ---- layout -------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        if self.dashboard is None:
            yield Static("connecting…", id="connecting")
        else:
            with TabbedContent(id="tabs"):
                yield from self._panes()
        yield Input(placeholder="filter panels by title, group or model (enter: keep, esc: clear)", id="filter")
        yield Footer(compact=True, show_command_palette=False)

    def _panes(self) -> list[TabPane]:
        """One tab per model family: version columns, the three groups of panel cards, the events feed."""
        return [
            TabPane(fam.name if len(fam.members) == 1 else f"{fam.name} ({' | '.join(_short(fam))})",
                    VerticalScroll(*self._family_widgets(fam), classes="pane"), id=f"tab-{i}")
            for i, fam in enumerate(self.families)
        ]

    def _family_widgets(self, fam: Family) -> list[Widget]:
        from mdash.panels import GROUPS

        specs = [s for s in self.dashboard.specs if s.model in fam.members or not s.model]
        out: list[Widget] = []
        if len(fam.members) > 1:
            out.append(Horizontal(*(Label(m, classes="version") for m in fam.members), classes="versions"))
        for group in GROUPS:
            out.append(Label(group.capitalize(), classes="group-title"))
            children: list[Widget] = []
            for spec in self._cells(specs, group, fam.members):
                card = PanelCard(spec) if spec is not None else Static("", classes="hole")
                if spec is not None:
                    self._cards.append(card)
                children.append(card)
            grid = Grid(*(children or [Static("no panels in this group", classes="empty")]),
                        classes=f"panels group-{group}")
            grid.styles.grid_size_columns = len(fam.members) if len(fam.members) > 1 else 2
            out.append(grid)
            if group == "exceptions":
                out.append(EventFeed(classes="feed"))
        return out

    @staticmethod
    def _cells(specs: list[PanelSpec], group: str, members: list[str]) -> list[PanelSpec | None]:
        """Panels of a group; with several versions, one row per title with each version in its column."""
        in_group = [s for s in specs if s.group == group]
        if len(members) == 1:
            return in_group
        titles = list(dict.fromkeys(s.title for s in in_group))
        by = {(s.model or members[0], s.title): s for s in in_group}
        return [by.get((m, t)) for t in titles for m in members]

    def on_mount(self) -> None:
        self._update_status()
        if self.dashboard is None:
            self.run_worker(self._connecting(), name="connect", exit_on_error=False)
        else:
            self._start()

    async def _connecting(self) -> None:
        try:
            dashboard = await in_daemon_thread(self._connect)
        except Exception as err:  # noqa: BLE001 - the command re-raises it after the app has closed
            self.connect_error = err
            self.exit(return_code=getattr(err, "exit_code", 1))
            return
        self._adopt(dashboard)
        tabs = TabbedContent(id="tabs")
        await self.mount(tabs, before=self.query_one("#filter"))
        for pane in self._panes():
            await tabs.add_pane(pane)
        await self.query_one("#connecting").remove()
        self._start()
        self.call_after_refresh(self._focus_first_card)

    def _start(self) -> None:
        for pane in self.query(".pane"):  # panels scrolled into view are fetched right away
            self.watch(pane, "scroll_y", lambda _y: self.call_after_refresh(self.refresh_data), init=False)
        for entry in self._read_audit():
            self.events.events.append(entry)
        self._start_timer()
        self._update_status()
        self._update_feed()
        self.call_after_refresh(self._fit_columns)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_columns)

    def _fit_columns(self) -> None:
        """Single-version tabs get as many ~40-cell columns as fit (no more than a group has panels); each query
        asks 2 points per cell of the widest graph on screen, so history never exceeds twice the graph width."""
        if self.dashboard is None:
            return
        width = self.size.width
        for grid in self.query(".panels").results(Grid):
            fam = self.families[self._index_of(grid)]
            if len(fam.members) == 1:
                fit = max(1, min(4, width // (CARD_WIDTH + 2)))
                grid.styles.grid_size_columns = max(1, min(fit, len(grid.children)))
        index = self.families.index(self.active_family()) if self.families else 0
        columns = [g.styles.grid_size_columns or 1 for g in self.query(".panels").results(Grid)
                   if self._index_of(g) == index]
        cells = width if self._zoom_screen() is not None else width // max(1, min(columns, default=1))
        points = max(60, min(11000, 2 * cells))
        if points != self.dashboard.points or self.last_snapshot is None:
            self.dashboard.points = points
            self.refresh_data()  # the first fetch, or a refetch at the new resolution

    def _index_of(self, widget: Any) -> int:
        for node in widget.ancestors:
            if isinstance(node, TabPane) and node.id and node.id.startswith("tab-"):
                return int(node.id[4:])
        return 0

    # ---- refresh loop -------------------------------------------------------------------------------------

    def _start_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.live and not self.paused:
            self._timer = self.set_interval(self.interval, self._tick, name="refresh")

    def _tick(self) -> None:
        self._update_status()
        self.refresh_data()

    def active_family(self) -> Family:
        tabs = list(self.query("#tabs").results(TabbedContent))
        active = (tabs[0].active if tabs else "") or "tab-0"
        return self.families[int(active[4:])] if self.families else Family("", [])

    def _visible_cards(self) -> list[PanelCard]:
        zoom = self._zoom_screen()
        if zoom is not None:
            return [c for c in self._cards if c.spec.key == zoom.key][:1]
        index = self.families.index(self.active_family()) if self.families else 0
        panes = list(self.query(f"#tab-{index} .pane"))
        view = panes[0].region if panes else self.screen.region  # the scrolled viewport, in screen cells
        return [c for c in self._cards if c.display and self._index_of(c) == index and c.region.overlaps(view)]

    def refresh_data(self) -> None:
        """Start one fetch of the visible panels, unless paused or one is already in flight."""
        if self.paused or self._inflight is not None or self.dashboard is None:
            return
        cards = self._visible_cards()
        keys = {c.spec.key for c in cards}
        if not keys:
            return
        models = sorted({c.spec.model for c in cards if c.spec.model})
        self._inflight = self.clock()
        self.run_worker(self._fetch(models, keys, self.dashboard.points), name="fetch", group="fetch",
                        exit_on_error=False)

    async def _fetch(self, models: list[str], keys: set[str], points: int) -> None:
        try:
            snap = await in_daemon_thread(lambda: self.dashboard.snapshot(models=models or None, keys=keys))
        except Exception as err:  # noqa: BLE001 - a failing source fails the panels, never the app
            self.fetch_error = str(err) or type(err).__name__
            self.events.add(self.clock(), "crit", "", f"fetch failed: {self.fetch_error}")
        else:
            self.fetch_error = ""
            self.apply(snap, keys)
        finally:
            self._inflight = None
            self.fetches += 1
            self._update_status()
        if self.dashboard.points != points:  # the layout changed meanwhile: fetch again at its resolution
            self.refresh_data()

    def apply(self, snap: Snapshot, keys: set[str] | None = None) -> None:
        """Hand each panel its new view, log what changed in the feed, refresh the header."""
        if self.last_snapshot is None and self.demo and snap.panels and all(r.state == "nodata" for r in snap.panels):
            self.notify("The demo has just started: its panels fill in by themselves as the first samples arrive "
                        "(about 10 s after start).", title="demo warming up", timeout=12)
        self.last_snapshot = snap
        self.last_ok = self.clock()
        end = snap.taken_at
        start = end - float(self.dashboard.range_seconds)
        zoom = self._zoom_screen()
        by_key: dict[str, list[PanelCard]] = {}
        for card in self._cards:
            by_key.setdefault(card.spec.key, []).append(card)
        for result in snap.panels:
            cards = by_key.get(result.spec.key, [])
            zoomed = zoom is not None and zoom.key == result.spec.key
            view = PanelView.from_result(result, start, end, max_points=self.dashboard.points)
            for card in cards:
                card.show(view)
            if zoomed:
                zoom.show(view)
        self.events.observe(snap, keys)
        self._update_feed()

    def _update_feed(self) -> None:
        members = set(self.active_family().members)
        for feed in self.query(EventFeed):
            if self.families and self.families[self._index_of(feed)].members == list(self.active_family().members):
                feed.show(self.events.for_models(members, limit=10))

    def _update_status(self) -> None:
        now = self.clock()
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.demo:
            text.append(" DEMO DATA ", style="bold black on yellow")
            text.append(" ")
        text.append("mdash ", style="bold")
        if self.dashboard is None:
            text.append("connecting to the data source (starting the demo when nothing is configured)…",
                        style="yellow")
            self.query_one("#status", StatusBar).update(text, layout=False)
            return
        text.append(f"{self.dashboard.source} ", style="cyan")
        text.append(f"every {fmt_duration(self.interval)} · range {fmt_duration(float(self.dashboard.range_seconds))} · ")
        if self.paused:
            text.append("PAUSED", style="bold reverse")
            if self.last_ok is not None:
                text.append(" at " + time.strftime("%H:%M:%S", time.localtime(self.last_ok)))
        elif self.last_ok is None:
            text.append("waiting for first data", style="yellow")
        else:
            age = now - self.last_ok
            late = age > 3 * self.interval + 1
            text.append(f"updated {fmt_age(age)} ago", style="bold yellow" if late else "green")
        if self._inflight is not None and now - self._inflight > self.interval:
            text.append(f" · source slow {fmt_age(now - self._inflight)}", style="bold yellow")
        if self.fetch_error:
            text.append(f" · {self.fetch_error}", style="red")
        if self.filter_text:
            text.append(f" · filter “{self.filter_text}”", style="magenta")
        if self.readonly:
            text.append(" · read-only", style="dim")
        self.query_one("#status", StatusBar).update(text, layout=False)  # one line, always: no re-layout

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        focused = self.focused
        if focused is not None and event.pane not in focused.ancestors:
            self.set_focus(None)  # a focused card in the old tab would pull it back
            self.call_after_refresh(self._focus_first_card)
        self._update_feed()
        if self.last_snapshot is not None:  # the first fetch waits for the layout (_fit_columns)
            self.call_after_refresh(self.refresh_data)  # once the new tab's panels are on screen
        self.call_after_refresh(self._fit_columns)

    # ---- actions ------------------------------------------------------------------------------------------

    def action_pause(self) -> None:
        """Stop (or resume) refreshing: paused, no timer runs and nothing is fetched."""
        self.paused = not self.paused
        self._start_timer()
        self._update_status()
        if not self.paused:
            self.refresh_data()

    def _set_interval(self, step: int) -> None:
        i = min(range(len(INTERVALS)), key=lambda k: abs(INTERVALS[k] - self.interval))
        self.interval = INTERVALS[max(0, min(len(INTERVALS) - 1, i + step))]
        self._start_timer()
        self._update_status()

    def action_slower(self) -> None:
        """Refresh less often (+)."""
        self._set_interval(+1)

    def action_faster(self) -> None:
        """Refresh more often (-)."""
        self._set_interval(-1)

    def action_range(self) -> None:
        """Cycle the time range 5m → 15m → 1h → 6h → 24h and refetch."""
        current = float(self.dashboard.range_seconds)
        i = min(range(len(RANGES)), key=lambda k: abs(RANGES[k] - current))
        self.dashboard.range_seconds = RANGES[(i + 1) % len(RANGES)]
        self._update_status()
        self.refresh_data()

    def _focus_first_card(self) -> None:
        cards = self._visible_cards()
        if cards:
            cards[0].focus()

    def action_tab(self, index: int) -> None:
        """Show the n-th model tab (keys 1-9)."""
        if index < len(self.families):
            self.query_one("#tabs", TabbedContent).active = f"tab-{index}"

    def action_refresh(self) -> None:
        self.refresh_data()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.filter_text
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.display = False
            cards = self._visible_cards()
            if cards:
                cards[0].focus()

    def on_key(self, event: Any) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            self.set_filter("")
            event.stop()

    def set_filter(self, text: str) -> None:
        """Show only panels whose title, group or model contains ``text`` (case-insensitive)."""
        self.filter_text = text.strip()
        needle = self.filter_text.lower()
        for card in self._cards:
            spec = card.spec
            card.display = not needle or any(needle in s.lower() for s in (spec.title, spec.group, spec.model))
        self._update_status()
        self.call_after_refresh(self.refresh_data)

    def focused_card(self) -> PanelCard | None:
        return self.focused if isinstance(self.focused, PanelCard) else None

    def action_zoom(self) -> None:
        """Show the focused panel full-screen (the first visible one if none has focus)."""
        from mdash.tui.screens import ZoomScreen

        card = self.focused_card() or next(iter(self._visible_cards()), None)
        if card is None:
            return
        screen = ZoomScreen(card.spec.key, card.spec)
        self.push_screen(screen, callback=lambda _: self._fit_columns())
        if card.view is not None:
            screen.show(card.view)
        self._fit_columns()
        self.refresh_data()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Filtering and zooming mean nothing on the zoomed screen: hide them from its footer."""
        return not (action in ("filter", "zoom") and self._zoom_screen() is not None)

    def _zoom_screen(self) -> Any:
        from mdash.tui.screens import ZoomScreen

        return next((s for s in self.screen_stack if isinstance(s, ZoomScreen)), None)

    def _refuse_readonly(self) -> bool:
        if self.readonly:
            self.notify("read-only (--readonly): canary and rollback are disabled", severity="warning")
        return self.readonly

    def model_configs(self) -> dict[str, Any]:
        return {m.name: m for m in getattr(self.dashboard.config, "models", [])}

    def current_models(self) -> tuple[str, str | None]:
        """(the model an action targets, its baseline): the active tab's canary when it has one."""
        configs = self.model_configs()
        fam = self.active_family()
        card = self.focused_card()
        canaries = [m for m in fam.members if m.endswith("-canary") or getattr(configs.get(m), "baseline", None)]
        target = canaries[0] if canaries else (card.spec.model if card and card.spec.model else "")
        target = target or (fam.members[0] if fam.members else "")
        others = [m for m in fam.members if m != target]
        return target, (others[0] if others else None)

    def rollback_kwargs(self, model: str) -> dict[str, Any]:
        """The config's [rollback] settings and, within a stable/canary tab, the versions rolled from and to."""
        configs = self.model_configs()
        fam = next((f for f in self.families if model in f.members), Family(model, [model]))
        other = next((m for m in fam.members if m != model), None)
        return {
            "settings": getattr(self.dashboard.config, "rollback", None),
            "from_version": getattr(configs.get(model), "version", None),
            "to_version": getattr(configs.get(other), "version", None),
        }

    def action_canary(self) -> None:
        """Open the canary form (disabled with --readonly)."""
        if self._refuse_readonly():
            return
        from mdash.tui.screens import CanaryScreen

        self.push_screen(CanaryScreen())

    def action_rollback(self) -> None:
        """Open the rollback confirmation (disabled with --readonly)."""
        if self._refuse_readonly():
            return
        from mdash.tui.screens import RollbackScreen

        self.push_screen(RollbackScreen())

    def action_export(self) -> None:
        """Export every panel of this tab (JSON, CSV) and this screen (SVG); the modal says where."""
        from mdash.tui.screens import ExportScreen

        models = [m for m in self.active_family().members if m] or None
        self.push_screen(ExportScreen(self.export_screenshot(), lambda: self.dashboard.snapshot(models=models),
                                      self.export_dir))

    def action_help(self) -> None:
        from mdash.tui.screens import HelpScreen

        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action, (title, help_text) in PALETTE.items():
            yield SystemCommand(f"mdash: {title}", help_text, getattr(self, f"action_{action}"))

    def record(self, level: str, model: str, text: str) -> None:
        """Add a canary or rollback event to the feed (called by the modals)."""
        self.events.add(self.clock(), level, model, text)
        self._update_feed()

    def _read_audit(self) -> list:
        if self.actions.read_audit is None:
            return []
        try:
            return audit_events(self.actions.read_audit(self.audit_log, tail=20))
        except Exception as err:  # noqa: BLE001 - an unreadable audit log is shown, not fatal
            return audit_events([{"event": f"audit log unreadable: {err}", "status": "error"}])


PALETTE = {
    "pause": ("Pause", "Stop or resume refreshing (p)"),
    "slower": ("Refresh less often", "Longer refresh interval (+)"),
    "faster": ("Refresh more often", "Shorter refresh interval (-)"),
    "range": ("Range", "Cycle the time range 5m/15m/1h/6h/24h (t)"),
    "filter": ("Filter", "Show only panels matching a text (/)"),
    "zoom": ("Zoom", "Show the focused panel full-screen (enter)"),
    "canary": ("Canary", "Send canary traffic and judge it against the baseline (c)"),
    "rollback": ("Rollback", "Trigger the rollback webhook after confirmation (b)"),
    "export": ("Export", "Write snapshot JSON/CSV and an SVG screenshot (e)"),
    "refresh": ("Refresh now", "Fetch the visible panels now (r)"),
    "help": ("Help", "Keys and what the colours mean (?)"),
}


def _short(fam: Family) -> list[str]:
    prefix = f"{fam.name}-"
    return [m[len(prefix):] if m.startswith(prefix) else m for m in fam.members]
