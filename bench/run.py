"""Run every benchmark and print one Markdown table: measure, mdash median, peer median, ratio, goal, met.

    python bench/run.py [--quick] [--only NAME ...]

Each ``bench/<name>.py`` exposes ``run(quick: bool) -> list[dict]`` with the keys of ``COLUMNS``; a benchmark
that fails prints its error in the table instead of stopping the run.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
COLUMNS = ("measure", "mdash", "peer", "ratio", "goal", "met")
ORDER = (
    "snapshot",
    "parse",
    "direct_memory",
    "tui_cpu",
    "tui_memory",
    "notebook_refresh",
    "canary_hey",
    "canary_openloop",
    "canary_memory",
    "canary_calibration",
)


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(HERE))
    spec.loader.exec_module(module)
    return module


def cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def bench_main(run, doc: str, argv: list[str] | None = None) -> int:
    """The command line of one benchmark script: ``--quick``, then its rows as the shared table."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter run")
    print(table(run(parser.parse_args(argv).quick)))
    return 0


def machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (under 3 minutes in all)")
    ap.add_argument("--only", nargs="*", default=None, help="benchmark names to run")
    args = ap.parse_args(argv)
    names = [n for n in ORDER if (HERE / f"{n}.py").exists() and (not args.only or n in args.only)]
    rows: list[dict] = []
    t0 = time.monotonic()
    for name in names:
        started = time.monotonic()
        try:
            rows += load(name).run(args.quick)
        except Exception as err:  # a broken benchmark is a row, not a crash
            rows.append({"measure": name, "mdash": f"failed: {type(err).__name__}: {err}"[:120], "met": False})
        print(f"  {name}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    print(f"Machine: {machine()}; {'--quick, ' if args.quick else ''}{time.monotonic() - t0:.0f} s in all\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
