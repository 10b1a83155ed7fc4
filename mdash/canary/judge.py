"""The canary judge: per-metric tests of canary against baseline, plus absolute limits, into one verdict.

Each metric ends Pass / High / Low / NoData with a reason in words. "High"/"Low" are only given in the harmful
direction (slower, more errors, less accurate); an improvement is a pass. A comparison fails only when it is
both *statistically* significant after Holm's correction over all comparisons of the run (family-wise error
``alpha``) and *practically* significant (the estimate exceeds the metric's tolerance), so a tiny but real shift
does not fail a rollout. Too few samples give NoData, and NoData in a required metric makes the run
inconclusive: no data is never a pass. Everything is a pure function of the samples and the seed (replayable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from mdash.canary.histogram import Histogram
from mdash.canary.payloads import NO_LABEL

if TYPE_CHECKING:
    from mdash.canary import CanarySettings

VERDICTS = ("pass", "high", "low", "nodata")
BOOTSTRAP = 400


@dataclass
class Metric:
    """One judged metric: estimate (canary minus baseline, or the canary's value for limits) and why."""

    name: str
    verdict: str
    reason: str
    n: int | None = None
    estimate: float | None = None
    ci: list[float] | None = None
    p_value: float | None = None
    threshold: float | None = None
    required: bool = True
    worse: str = "high"  # the harmful direction
    margin_exceeded: bool = False  # estimate beyond the tolerance in the harmful direction (before the test)

    def to_dict(self) -> dict:
        """The schema's metric record (mdash.canary/1)."""
        return {"name": self.name, "verdict": self.verdict, "n": self.n, "estimate": self.estimate,
                "ci": self.ci, "p_value": self.p_value, "threshold": self.threshold, "reason": self.reason}


@dataclass
class Arm:
    """The columns of one arm that the judge reads (numpy views of traffic.ArmSamples)."""

    latency_us: np.ndarray
    status: np.ndarray
    payload: np.ndarray
    label: np.ndarray
    value: np.ndarray

    @classmethod
    def of(cls, cols: dict[str, np.ndarray]) -> Arm:
        """The judge's view of ArmSamples.arrays()."""
        return cls(cols["latency_us"], cols["status"], cols["payload"], cols["label"], cols["value"])

    @property
    def ok(self) -> np.ndarray:
        """Requests answered 2xx."""
        return (self.status >= 200) & (self.status < 300)

    @property
    def readable(self) -> np.ndarray:
        """Requests answered 2xx with a prediction that could be read."""
        return self.ok & (self.label != NO_LABEL)


def r(x: float | None, digits: int = 6) -> float | None:
    """Round for the report (stable JSON); None and non-finite values become None."""
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def pct(x: float) -> str:
    """A fraction as a percentage for reasons."""
    return f"{100 * x:.1f} %"


def fmt_p(p: float) -> str:
    """A p-value with two significant digits."""
    return f"p={p:.2g}"


def kth_difference(c: np.ndarray, b_sorted: np.ndarray, k: int) -> int:
    """The k-th smallest (1-based) of all differences c_i - b_j, by bisection on integers: O((n+m) log)."""
    lo, hi = int(c.min() - b_sorted[-1]), int(c.max() - b_sorted[0])
    m = b_sorted.size
    while lo < hi:
        mid = (lo + hi) // 2
        count = int((m - np.searchsorted(b_sorted, c - mid, side="left")).sum())
        if count >= k:
            hi = mid
        else:
            lo = mid + 1
    return lo


def hodges_lehmann(c: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float, float]:
    """Hodges-Lehmann shift (median of pairwise differences) and its distribution-free CI, in µs."""
    bs = np.sort(b)
    n, m = c.size, b.size
    total = n * m
    est = (kth_difference(c, bs, (total + 1) // 2) + kth_difference(c, bs, total // 2 + 1)) / 2
    z = stats.norm.ppf(0.5 + level / 2)
    k = max(1, int(math.floor(total / 2 - z * math.sqrt(total * (n + m + 1) / 12))))
    return est, float(kth_difference(c, bs, k)), float(kth_difference(c, bs, total - k + 1))


def wilson(x: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def newcombe(xc: int, nc: int, xb: int, nb: int, level: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval for the difference of two proportions (canary - baseline)."""
    z = stats.norm.ppf(0.5 + level / 2)
    pc, pb = xc / nc, xb / nb
    (lc, uc), (lb, ub) = wilson(xc, nc, z), wilson(xb, nb, z)
    d = pc - pb
    return d - math.sqrt((pc - lc) ** 2 + (ub - pb) ** 2), d + math.sqrt((uc - pc) ** 2 + (pb - lb) ** 2)


class Judge:
    """Computes every metric for one run; ``run()`` returns (verdict, metrics, summary reason)."""

    def __init__(self, canary: Arm, baseline: Arm | None, expected: np.ndarray | None,
                 settings: CanarySettings) -> None:
        self.c, self.b, self.s = canary, baseline, settings
        self.expected = expected if expected is not None and (expected != NO_LABEL).any() else None
        self.level = 1 - settings.alpha
        self.rng = np.random.default_rng(settings.seed)

    def too_few(self, name: str, nc: int, nb: int | None, what: str, required: bool = True) -> Metric | None:
        """A NoData metric when either arm has fewer than min_samples, else None."""
        need = self.s.min_samples
        if nc >= need and (nb is None or nb >= need):
            return None
        have = f"{nc} canary" + ("" if nb is None else f" and {nb} baseline")
        return Metric(name, "nodata", f"only {have} {what} (need {need} per arm): run more requests",
                      n=nc, required=required)

    # ---- comparisons -------------------------------------------------------------------------------

    def latency(self) -> Metric:
        """Mann-Whitney U (one-sided, canary slower) with the Hodges-Lehmann shift and its CI."""
        c = self.c.latency_us[self.c.ok]
        b = self.b.latency_us[self.b.ok]
        if (m := self.too_few("latency", c.size, b.size, "successful requests")) is not None:
            return m
        p = float(stats.mannwhitneyu(c, b, alternative="greater").pvalue)
        est, lo, hi = hodges_lehmann(c, b, self.level)
        base = float(np.median(b))
        margin = max(self.s.latency_tolerance * base, self.s.latency_min_shift_ms * 1000)
        rel = est / base if base else math.inf
        word = "slower" if est > 0 else "faster"
        reason = (f"canary {word} by {abs(est) / 1000:.3g} ms ({rel:+.1%} of the baseline median "
                  f"{base / 1000:.3g} ms; {self.level:.0%} CI {lo / 1000:.3g} to {hi / 1000:.3g} ms), {fmt_p(p)}")
        return Metric("latency", "pass", reason, n=int(c.size), estimate=r(est / 1000), p_value=r(p, 12),
                      ci=[r(lo / 1000), r(hi / 1000)], threshold=r(margin / 1000), margin_exceeded=est > margin)

    def proportions(self, name: str, xc: int, nc: int, xb: int, nb: int, worse: str, tolerance: float,
                    what: str, detail: str = "", required: bool = True, describe: str = "") -> Metric:
        """Fisher's exact test (one-sided, harmful direction) on two proportions, Newcombe CI of the difference."""
        if (m := self.too_few(name, nc, nb, what, required)) is not None:
            return m
        table = [[xc, nc - xc], [xb, nb - xb]]
        p = float(stats.fisher_exact(table, alternative="greater" if worse == "high" else "less").pvalue)
        d = xc / nc - xb / nb
        lo, hi = newcombe(xc, nc, xb, nb, self.level)
        reason = (f"{describe or name.replace('_', ' ')}: canary {pct(xc / nc)} ({xc}/{nc}{detail}) vs baseline {pct(xb / nb)} ({xb}/{nb}); "
                  f"difference {100 * d:+.1f} pp, {fmt_p(p)}")
        bad = d > tolerance if worse == "high" else d < -tolerance
        return Metric(name, "pass", reason, n=nc, estimate=r(d), ci=[r(lo), r(hi)], p_value=r(p, 12),
                      threshold=tolerance, required=required, worse=worse, margin_exceeded=bad)

    def error_detail(self, arm: Arm, reasons: dict[str, int] | None = None) -> str:
        """A short list of error kinds: HTTP status counts and client-side reasons."""
        bad = arm.status[~arm.ok]
        parts = [f"HTTP {code} x{n}" for code, n in zip(*np.unique(bad[bad >= 100], return_counts=True),
                                                      strict=True)]
        parts += [f"{k} x{v}" for k, v in sorted((reasons or {}).items())]
        return (": " + ", ".join(parts[:4])) if parts else ""

    def errors(self, reasons: dict[str, int]) -> Metric:
        """Error rate, canary vs baseline (non-2xx, timeouts and connection failures)."""
        c, b = self.c, self.b
        return self.proportions("error_rate", int((~c.ok).sum()), c.ok.size, int((~b.ok).sum()), b.ok.size,
                                "high", self.s.error_tolerance, "requests", self.error_detail(c, reasons))

    def quality(self) -> list[Metric]:
        """Accuracy (Fisher) and macro precision/recall/F1 (seeded bootstrap) against the expected labels."""
        exp_c, exp_b = self.expected[self.c.payload], self.expected[self.b.payload]
        mc, mb = self.c.ok & (exp_c != NO_LABEL), self.b.ok & (exp_b != NO_LABEL)
        tc, pc, tb, pb = exp_c[mc], self.c.label[mc], exp_b[mb], self.b.label[mb]
        out = [self.proportions("accuracy", int((tc == pc).sum()), tc.size, int((tb == pb).sum()), tb.size,
                                "low", self.s.quality_tolerance, "labelled answers")]
        if out[0].verdict == "nodata":
            return out
        classes = np.unique(np.concatenate([tc, tb]))
        codes = [np.searchsorted(classes, a) for a in (tc, tb)]
        preds = [np.where(np.isin(a, classes), np.searchsorted(classes, a), classes.size) for a in (pc, pb)]
        point = macro_prf(codes[0], preds[0], classes.size) - macro_prf(codes[1], preds[1], classes.size)
        boots = np.empty((BOOTSTRAP, 3))
        for i in range(BOOTSTRAP):
            ic = self.rng.integers(0, tc.size, tc.size)
            ib = self.rng.integers(0, tb.size, tb.size)
            boots[i] = (macro_prf(codes[0][ic], preds[0][ic], classes.size)
                        - macro_prf(codes[1][ib], preds[1][ib], classes.size))
        a = self.s.alpha
        for j, name in enumerate(("precision", "recall", "f1")):
            lo, hi = np.quantile(boots[:, j], [a / 2, 1 - a / 2])
            p = float((1 + (boots[:, j] >= 0).sum()) / (BOOTSTRAP + 1))
            reason = (f"macro {name} {100 * point[j]:+.1f} pp vs baseline ({self.level:.0%} bootstrap CI "
                      f"{100 * lo:+.1f} to {100 * hi:+.1f} pp), {fmt_p(p)}")
            out.append(Metric(name, "pass", reason, n=int(tc.size), estimate=r(point[j]), ci=[r(lo), r(hi)],
                              p_value=r(p, 12), threshold=self.s.quality_tolerance, worse="low",
                              margin_exceeded=point[j] < -self.s.quality_tolerance))
        return out

    def consistency(self) -> list[Metric]:
        """Agreement of canary answers with the baseline's, and each arm's noise on repeated inputs."""
        rb = self.b.readable
        mode_b = modes(self.b.payload[rb], self.b.label[rb])
        cp, cl = self.c.payload[self.c.ok], self.c.label[self.c.ok]  # a 2xx answer nobody can read disagrees
        inside = cp < mode_b.size
        known = np.zeros(cp.size, dtype=bool)
        known[inside] = mode_b[cp[inside]] != NO_LABEL
        agree_c = int(agreeing(cp, cl, mode_b).sum())
        self_b = int(agreeing(self.b.payload[rb], self.b.label[rb], mode_b).sum())
        agreement = self.proportions("agreement", agree_c, int(known.sum()), self_b, int(rb.sum()), "low",
                                     self.s.quality_tolerance, "answers to shared inputs", required=False,
                                     describe="answers equal to the baseline's usual answer for the input")
        noise = [repeat_disagreement(a.payload[a.readable], a.label[a.readable]) for a in (self.c, self.b)]
        metric = self.proportions("noise", noise[0][0], noise[0][1], noise[1][0], noise[1][1], "high",
                                  self.s.noise_tolerance, "answers to repeated inputs", required=False,
                                  describe="answers differing from the arm's usual answer for a repeated input")
        return [agreement, metric]

    def output_shift(self) -> Metric:
        """Chi-square + PSI on categorical predictions, or two-sample KS on numeric ones."""
        lc, lb = self.c.label[self.c.readable], self.b.label[self.b.readable]
        if (m := self.too_few("output_shift", lc.size, lb.size, "readable answers", False)) is not None:
            return m
        cats = np.unique(np.concatenate([lc, lb]))
        tol = self.s.shift_tolerance
        if cats.size <= 20:
            counts = np.array([[(x == k).sum() for k in cats] for x in (lc, lb)], dtype=float)
            p = 1.0 if cats.size < 2 else float(stats.chi2_contingency(counts).pvalue)
            fc, fb = [(row + 0.5) / (row + 0.5).sum() for row in counts]
            psi = float(((fc - fb) * np.log(fc / fb)).sum())
            reason = f"PSI {psi:.3f} over {cats.size} answer classes (tolerance {tol:g}), chi-square {fmt_p(p)}"
            return Metric("output_shift", "pass", reason, n=int(lc.size), estimate=r(psi), p_value=r(p, 12),
                          threshold=tol, required=False, margin_exceeded=psi > tol)
        vc = self.c.value[self.c.readable]
        vb = self.b.value[self.b.readable]
        vc, vb = vc[np.isfinite(vc)], vb[np.isfinite(vb)]
        if (m := self.too_few("output_shift", vc.size, vb.size, "numeric answers", False)) is not None:
            return m
        ks = stats.ks_2samp(vc, vb)
        reason = f"KS distance {ks.statistic:.3f} between answer values (tolerance {tol:g}), {fmt_p(ks.pvalue)}"
        return Metric("output_shift", "pass", reason, n=int(vc.size), estimate=r(ks.statistic),
                      p_value=r(ks.pvalue, 12), threshold=tol, required=False,
                      margin_exceeded=ks.statistic > tol)

    # ---- absolute limits ---------------------------------------------------------------------------

    def limits(self, reasons: dict[str, int]) -> list[Metric]:
        """The configured absolute limits on the canary alone (max p99, max error ratio, min accuracy)."""
        out = []
        c, s = self.c, self.s
        if s.max_p99_ms is not None:
            ok = c.latency_us[c.ok]
            m = self.too_few("p99_limit", ok.size, None, "successful requests")
            if m is None:
                h = Histogram()
                h.record(ok)
                p99 = h.percentile(99) / 1000
                bad = p99 > s.max_p99_ms
                m = Metric("p99_limit", "high" if bad else "pass",
                           f"canary p99 {p99:.3g} ms {'above' if bad else 'within'} the {s.max_p99_ms:g} ms limit",
                           n=int(ok.size), estimate=r(p99), threshold=s.max_p99_ms)
            out.append(m)
        if s.max_error_ratio is not None:
            m = self.too_few("error_limit", c.ok.size, None, "requests")
            if m is None:
                ratio = float((~c.ok).mean())
                bad = ratio > s.max_error_ratio
                m = Metric("error_limit", "high" if bad else "pass",
                           f"canary error ratio {pct(ratio)}{self.error_detail(c, reasons)} "
                           f"{'above' if bad else 'within'} the {pct(s.max_error_ratio)} limit",
                           n=int(c.ok.size), estimate=r(ratio), threshold=s.max_error_ratio)
            out.append(m)
        if s.min_accuracy is not None:
            if self.expected is None:
                out.append(Metric("accuracy_limit", "nodata", "min accuracy is set but the dataset has no "
                                  "expected labels: add \"expected\" to its lines"))
            else:
                exp = self.expected[c.payload]
                mask = c.ok & (exp != NO_LABEL)
                m = self.too_few("accuracy_limit", int(mask.sum()), None, "labelled answers")
                if m is None:
                    acc = float((c.label[mask] == exp[mask]).mean())
                    bad = acc < s.min_accuracy
                    m = Metric("accuracy_limit", "low" if bad else "pass",
                               f"canary accuracy {pct(acc)} {'below' if bad else 'at or above'} the "
                               f"{pct(s.min_accuracy)} minimum", n=int(mask.sum()), estimate=r(acc),
                               threshold=s.min_accuracy)
                out.append(m)
        return out

    # ---- the verdict -------------------------------------------------------------------------------

    def run(self, reasons: dict[str, int]) -> tuple[str, list[Metric], str]:
        """All metrics, Holm-corrected decisions, and the overall verdict with a one-line reason."""
        compared: list[Metric] = []
        if self.b is not None:
            compared = [self.latency(), self.errors(reasons)]
            if self.expected is not None:
                compared += self.quality()
            compared += [*self.consistency(), self.output_shift()]
            decide(compared, self.s.alpha)
        metrics = compared + self.limits(reasons)
        failed = [m for m in metrics if m.verdict in ("high", "low")]
        missing = [m for m in metrics if m.verdict == "nodata" and m.required]
        if failed:
            return "fail", metrics, "; ".join(f"{m.name} {m.verdict}" for m in failed)
        if missing or not metrics:
            why = ", ".join(m.name for m in missing) or "nothing to judge (no baseline and no limits)"
            return "inconclusive", metrics, f"not enough data: {why}"
        return "pass", metrics, f"all {len(metrics)} metrics pass"


def decide(metrics: list[Metric], alpha: float) -> None:
    """Holm's step-down over the comparisons' p-values; High/Low only when also beyond the tolerance."""
    tested = sorted((m for m in metrics if m.p_value is not None), key=lambda m: (m.p_value, m.name))
    k = len(tested)
    running = 0.0
    for i, m in enumerate(tested):
        running = max(running, min(1.0, (k - i) * m.p_value))
        significant = running <= alpha
        if significant and m.margin_exceeded:
            m.verdict = m.worse
            m.reason += f"; significant after Holm correction (adjusted p={running:.2g}) and beyond the tolerance"
        elif significant and (m.estimate or 0) * (1 if m.worse == "high" else -1) > 0:
            m.reason += "; significant but within the tolerance, so it passes"


def macro_prf(true: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Macro-averaged precision, recall and F1 over the k expected classes (pred == k means 'other')."""
    conf = np.bincount(true * (k + 1) + pred, minlength=k * (k + 1)).reshape(k, k + 1)[:, :k]
    tp = np.diag(conf).astype(float)
    predicted = np.bincount(pred, minlength=k + 1)[:k].astype(float)
    actual = np.bincount(true, minlength=k)[:k].astype(float)
    prec = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    rec = np.divide(tp, actual, out=np.zeros(k), where=actual > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(k), where=(prec + rec) > 0)
    return np.array([prec.mean(), rec.mean(), f1.mean()])


def modes(payload: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Per input index, its most common answer (ties: the smallest label hash); NO_LABEL where never asked."""
    out = np.full(int(payload.max()) + 1 if payload.size else 0, NO_LABEL, dtype=np.int64)
    if payload.size:
        pairs, counts = np.unique(np.stack([payload.astype(np.int64), label]), axis=1, return_counts=True)
        order = np.lexsort((pairs[1], -counts, pairs[0]))
        p, lab = pairs[0][order], pairs[1][order]
        first = np.r_[True, p[1:] != p[:-1]]
        out[p[first]] = lab[first]
    return out


def agreeing(payload: np.ndarray, label: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """Which answers equal the given per-input usual answer (False where the input has none)."""
    known = payload < mode.size
    out = np.zeros(payload.size, dtype=bool)
    out[known] = (mode[payload[known]] == label[known]) & (mode[payload[known]] != NO_LABEL)
    return out


def repeat_disagreement(payload: np.ndarray, label: np.ndarray) -> tuple[int, int]:
    """(answers differing from their input's usual answer, answers) over inputs asked at least twice."""
    uniq, counts = np.unique(payload, return_counts=True)
    repeated = np.isin(payload, uniq[counts >= 2])
    p, lab = payload[repeated], label[repeated]
    return int(p.size - agreeing(p, lab, modes(p, lab)).sum()), int(p.size)
