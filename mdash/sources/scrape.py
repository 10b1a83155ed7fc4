"""Direct mode: scrape one /metrics page, keep a bounded history per series, evaluate preset Exprs on it.

Without a Prometheus, the dashboard keeps one :class:`Scraper` per metrics URL. Each ``scrape()`` parses the text
exposition format with :func:`parse` (a regex parser measured faster than prometheus_client's, see
bench/parse.py) and appends one column to a ring buffer shared by every series of that page.

Memory cap: one float64 per series per kept scrape, so ``series x max_points x 8 bytes`` (plus the series' labels
once); with the default ``max_points=1800`` (30 min at 1 s, 1 h at 2 s) that is 14.4 KB per series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mdash.errors import SourceError

Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, Labels, float]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_PAIR = r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\.)*)"\s*'
_LABELS = re.compile(rf"(?:{_PAIR},)*(?:{_PAIR})?\Z")
_PAIRS = re.compile(_PAIR)
_UNESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "\\": "\\", '"': '"'}
TYPES = ("counter", "gauge", "histogram", "summary", "untyped", "unknown", "info", "stateset", "gaugehistogram")


@dataclass
class Page:
    """One parsed /metrics page: samples in page order and the declared type of each metric family."""

    samples: list[Sample] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)

    def families(self) -> set[str]:
        """Metric family names: declared ones plus every sample name (for fingerprinting)."""
        return set(self.types) | {name for name, _, _ in self.samples}


def parse(text: str, cache: dict[str, Labels] | None = None) -> Page:
    """Parse the Prometheus text exposition format (and OpenMetrics text); raises SourceError naming the line.

    ``cache`` maps label strings already seen to their parsed labels, so repeated scrapes of one page skip the
    label parsing (a Scraper keeps one).
    """
    page = Page()
    samples, types = page.samples, page.types
    labels_cache = {} if cache is None else cache
    for number, line in enumerate(text.split("\n"), start=1):
        if not line or line.isspace():
            continue
        if line[0] == "#":
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                if parts[3].strip() not in TYPES:
                    raise SourceError(f"line {number}: unknown metric type {parts[3].strip()!r}")
                types[parts[2]] = parts[3].strip()
            continue
        brace = line.find("{")
        if brace >= 0:
            name = line[:brace].strip()
            close = line.rfind("}")
            if close < brace:
                raise SourceError(f"line {number}: '{{' without '}}': {line[:120]!r}")
            text_labels = line[brace + 1 : close]
            labels = labels_cache.get(text_labels)
            if labels is None:
                labels = _parse_labels(text_labels, number)
                labels_cache[text_labels] = labels
            rest = line[close + 1 :].split()
        else:
            parts = line.split()
            name, rest, labels = parts[0], parts[1:], ()
        if not _NAME.match(name):
            raise SourceError(f"line {number}: bad metric name {name!r}")
        if not 1 <= len(rest) <= 2:
            raise SourceError(f"line {number}: expected 'name{{labels}} value [timestamp]', got {line[:120]!r}")
        try:
            value = float(rest[0])
        except ValueError:
            raise SourceError(f"line {number}: value {rest[0][:40]!r} is not a number") from None
        samples.append((name, labels, value))
    return page


def _parse_labels(text: str, number: int) -> Labels:
    if not _LABELS.match(text):
        raise SourceError(f'line {number}: bad label set {{{text[:120]}}}; expected name="value" pairs')
    pairs = _PAIRS.findall(text)
    if any("\\" in v for _, v in pairs):
        pairs = [(k, _UNESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), v)) for k, v in pairs]
    return tuple(sorted(pairs))
