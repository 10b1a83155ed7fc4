"""``mdash presets [NAME]``: list the model-server presets, or print the PromQL one generates for a model."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "presets",
        help="list model-server presets, or print the PromQL a preset generates",
        description="Without NAME: every preset, how it is detected and where its metric names come from. "
        "With NAME (presets combine with '+', e.g. mlserver+node): each default panel and its PromQL.",
    )
    p.add_argument("name", nargs="?", help="a preset name, e.g. triton or mlserver+node")
    p.add_argument("--model", default="model", help="model name shown on the panels (default: model)")
    p.add_argument("--selector", default="", help='label matchers scoping every query, e.g. job="triton"')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mdash.config import ModelConfig
    from mdash.presets import PRESETS, default_panels, get

    if not args.name:
        for preset in PRESETS.values():
            print(f"{preset.name:<13} {preset.server}")
            print(f"{'':<13} detected by: {', '.join(preset.fingerprint)}")
            print(f"{'':<13} names from:  {'; '.join(preset.sources)}")
        return 0
    get(args.name)  # one clear error for an unknown name, before anything is printed
    model = ModelConfig(args.model, selector=args.selector)
    for spec in default_panels(model, args.name):
        unit = f" [{spec.unit}]" if spec.unit else ""
        print(f"# {spec.group} / {spec.title}{unit}" + (f"  -- {spec.note}" if spec.note else ""))
        for q in spec.queries:
            print(f"{q.promql}" + (f"    # {q.legend}" if q.legend else ""))
    return 0
