"""A Snapshot as one self-contained HTML file: plotly.js inlined once, every panel drawn, states and errors listed.

Opens offline (no CDN), so it can be attached to an incident or a CI run as it is.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import plotly.io as pio

from mdash.fmt import fmt_age, fmt_value
from mdash.notebook.figures import STATE_COLORS, PanelGrid
from mdash.panels import GROUPS, Snapshot

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #212121; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border-bottom: 1px solid #e0e0e0; padding: 2px 10px; text-align: left; }
.banner { background: #fff3cd; padding: 4px 8px; display: inline-block; }
.err { color: #c62828; }
"""


def write_html(snapshot: Snapshot, path: str | Path) -> Path:
    """Write ``snapshot`` as a static, offline HTML report at ``path`` and return the path."""
    path = Path(path)
    taken = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(snapshot.taken_at))
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>mdash snapshot {html.escape(taken)}</title><style>{STYLE}</style></head><body>",
        f"<h1>mdash snapshot</h1><p>taken {html.escape(taken)} · source {html.escape(snapshot.source)}</p>",
    ]
    if snapshot.demo:
        out.append("<p class='banner'>demo data</p>")
    out += [f"<p class='err'>{html.escape(e)}</p>" for e in snapshot.errors]
    if snapshot.alerts:
        out.append("<h2>Alerts</h2><table><tr><th>alert</th><th>state</th><th>labels</th></tr>")
        for a in snapshot.alerts:
            labels = ", ".join(f"{k}={v}" for k, v in a.labels.items())
            out.append(f"<tr><td>{html.escape(a.name)}</td><td>{html.escape(a.state)}</td><td>{html.escape(labels)}</td></tr>")
        out.append("</table>")
    include_js: bool | str = True
    for model in snapshot.models:
        out.append(f"<h2>{html.escape(model or 'panels')}</h2>")
        for group in GROUPS:
            results = snapshot.group(group, model)
            if not results:
                continue
            out.append(f"<h3>{group.capitalize()}</h3><table><tr><th>panel</th><th>value</th><th>state</th><th>age</th><th>note</th></tr>")
            for r in results:
                color = STATE_COLORS[r.state]
                note = r.error or r.spec.note
                out.append(
                    f"<tr><td>{html.escape(r.spec.title)}</td><td>{html.escape(fmt_value(r.value, r.spec.unit))}</td>"
                    f"<td style='color:{color}'><b>{r.state}</b></td><td>{fmt_age(r.age)}</td>"
                    f"<td>{html.escape(note)}</td></tr>"
                )
            grid = PanelGrid([r.spec for r in results], fill_width=True)
            grid.update(results)
            out.append("</table>")
            out.append(pio.to_html(grid.fig, full_html=False, include_plotlyjs=include_js, config={"displaylogo": False}))
            include_js = False
    out.append("</body></html>")
    path.write_text("\n".join(out), encoding="utf-8")
    return path

