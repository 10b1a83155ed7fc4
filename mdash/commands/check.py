"""``mdash check``: is the config valid, is Prometheus there (and which version), are the endpoints ready, and does
Prometheus accept every panel's query? One line per check; non-zero exit when any fails."""

from __future__ import annotations

import argparse
import sys
import time

from mdash.commands._common import add_source_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check",
        help="validate the config and connectivity (Prometheus, endpoints, panel queries)",
        description="Check the config, Prometheus (reachable, version), each endpoint's readiness and each "
        "panel's query. Exit 0 when all pass, 1 when any fails, 2 for a bad config.",
    )
    add_source_args(p)
    p.set_defaults(func=run)


class _Report:
    """Collects check lines and counts failures."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.failures = 0

    def add(self, ok: bool | None, what: str, text: str) -> None:
        mark = "ok" if ok else ("skip" if ok is None else "FAIL")
        self.failures += ok is False
        self.lines.append(f"  {mark:<5} {what:<11} {' '.join(text.split())}")


def run(args: argparse.Namespace) -> int:
    import httpx

    from mdash.commands._common import load_config_from_args
    from mdash.dashboard import Dashboard
    from mdash.errors import ConfigError, MdashError
    from mdash.sources.endpoint import probe
    from mdash.sources.prometheus import PrometheusSource

    config = load_config_from_args(args)
    if config.is_empty:
        raise ConfigError("nothing to check: pass --config FILE, or --prometheus URL / --endpoint URL")
    report = _Report()
    report.add(True, "config", f"{config.path or 'flags'}: {len(config.models)} model(s), {len(config.panels)} custom panel(s)")

    prom = PrometheusSource(config.prometheus) if config.prometheus else None
    prom_ok = False
    if prom is not None:
        started = time.perf_counter()
        try:
            info = prom.buildinfo()
            ms = (time.perf_counter() - started) * 1000
            report.add(True, "prometheus", f"{prom.url}: version {info.get('version', '?')} ({ms:.0f} ms)")
            prom_ok = True
        except MdashError as err:
            report.add(False, "prometheus", str(err))

    with httpx.Client(timeout=2.0) as client:
        for m in config.models:
            if m.endpoint:
                st = probe(client, m.name, m.endpoint, m.server_name)
                latency = "" if st.latency_ms is None else f" in {st.latency_ms:.0f} ms"
                report.add(st.ready, "endpoint", f"{m.name} {m.endpoint}: {st.status}{latency}{' — ' + st.error if st.error else ''}")
            if m.metrics and prom is None:
                try:
                    r = client.get(m.metrics)
                    report.add(r.status_code == 200, "metrics", f"{m.name} {m.metrics}: HTTP {r.status_code}")
                except httpx.HTTPError as err:
                    report.add(False, "metrics", f"{m.name} {m.metrics}: cannot reach it ({err})")

    with Dashboard(config) as dash:
        specs = dash.specs  # detects each "auto" preset once: a failed detection is not cached, so not asked twice
        for m in config.models:
            if dash.detected(m):
                report.add(True, "preset", f"{m.name}: {dash.preset_for(m)}" + (" (detected)" if m.preset == "auto" else ""))
            else:
                report.add(False, "preset", f"{m.name}: cannot detect the server: neither its /metrics nor Prometheus "
                           f"answered; set preset = \"NAME\" (see `mdash presets`) or fix the URLs above")
        for spec in specs:
            for q in spec.queries:
                where = f"{spec.key} [{q.promql[:80]}]" if len(spec.queries) > 1 else spec.key
                if prom is None:
                    report.add(True if q.direct else None, "panel", f"{where}: " + ("computed from the scrape" if q.direct else "needs Prometheus"))
                elif not prom_ok:
                    report.add(None, "query", f"{where}: not checked, Prometheus unreachable")
                else:
                    try:
                        frame = prom.instant(q.promql, legend=q.legend)
                        report.add(True, "query", f"{where}: accepted, {len(frame.columns)} series now")
                    except MdashError as err:
                        report.add(False, "query", f"{where}: {err}")
    if prom is not None:
        prom.close()

    print(f"mdash check · {config.path or 'flags'}")
    print("\n".join(report.lines))
    print(f"{report.failures} problem(s)" if report.failures else "all checks passed")
    sys.stdout.flush()
    return 1 if report.failures else 0
