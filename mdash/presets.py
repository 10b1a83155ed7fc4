"""Presets: one table per model server mapping its real metric names, labels and units to mdash's default panels.

A preset is data: a fingerprint (metric-family prefixes that identify the server in one scrape), the documents its
names were checked against, and rows of panels whose queries are structured Exprs (mdash.expr). The same Expr
renders the PromQL for Prometheus mode and is computed by ``Scraper.evaluate`` in direct mode. Latencies are
converted to seconds (Triton, TorchServe and TF Serving count µs, Ray Serve ms). Presets combine with "+", e.g.
``preset = "mlserver+node"`` adds node_exporter's resource panels to an MLServer model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mdash.config import ModelConfig
from mdash.errors import ConfigError, SourceError
from mdash.expr import Agg, BinOp, Node, Num, OrZero, Quantile, Rate, Selector, parse_selector, rate, sel
from mdash.panels import Group, PanelSpec, Query

WINDOW = 60.0  # rate window: 4 scrapes at Prometheus' common 15 s interval
MULTIPROCESS = ("process_* metrics are absent when {server} runs several workers (prometheus_client multiprocess "
                "mode): add cAdvisor or node_exporter for resources (preset \"{name}+cadvisor\")")


@dataclass(frozen=True)
class Row:
    """One default panel of a preset: title, group, (Expr, legend) queries, unit, thresholds, note."""

    title: str
    group: Group
    queries: tuple[tuple[Node, str], ...]
    unit: str = ""
    warn: float | None = None
    crit: float | None = None
    better: str = "lower"
    note: str = ""


@dataclass(frozen=True)
class Preset:
    """A model server (or resource exporter) as data: how to recognize it, where its names come from, its panels."""

    name: str
    server: str
    fingerprint: tuple[str, ...]  # metric-family prefixes; any one present identifies the server
    sources: tuple[str, ...]
    rows: tuple[Row, ...]


# --- small builders, so the tables below read like the PromQL they generate ---------------------------------


def s_rate(metric: str, w: float = WINDOW, **labels: str) -> Agg:
    """sum(rate(metric[1m]))"""
    return Agg("sum", rate(metric, w, **labels))


def by(label: str, metric: str, w: float = WINDOW, **labels: str) -> Agg:
    """sum by (label) (rate(metric[1m]))"""
    return Agg("sum", rate(metric, w, **labels), by=(label,))


def scaled(node: Node, divisor: float) -> Node:
    return node if divisor == 1 else BinOp(node, "/", Num(divisor))


def latency(bucket: str, divisor: float = 1, w: float = WINDOW, **labels: str) -> Row:
    """p95, p50, p99 from a histogram's buckets (p95 first: it is the panel's value and what thresholds judge)."""
    qs = tuple(
        (scaled(Quantile(q, Agg("sum", rate(bucket, w, **labels), by=("le",))), divisor), f"p{round(q * 100)}")
        for q in (0.95, 0.5, 0.99)
    )
    return Row("latency", "performance", qs, unit="s")


def mean_latency(total: Node, count: Node, divisor: float, title: str = "latency", extra: str = "") -> Row:
    note = "mean only: the server exports no percentiles" + (f"; {extra}" if extra else "")
    return Row(title, "performance", ((scaled(BinOp(total, "/", count), divisor), "mean"),), unit="s", note=note)


def throughput(node: Node) -> Row:
    return Row("requests/s", "performance", ((node, "req/s"),), unit="req/s", better="higher")


def error_ratio(errors: Node, total: Node, note: str = "") -> Row:
    return Row("error ratio", "performance", ((BinOp(OrZero(errors), "/", total), "errors"),), unit="ratio",
               warn=0.01, crit=0.05, note=note)


def errors_by(label: str, metric: str, w: float = WINDOW, **labels: str) -> Row:
    return Row(f"errors by {label}", "exceptions", ((by(label, metric, w, **labels), "{{" + label + "}}"),), unit="/s")


def process_rows(note: str = "", w: float = WINDOW) -> tuple[Row, ...]:
    return (
        Row("process CPU", "resources", ((s_rate("process_cpu_seconds_total", w), "cores"),), unit="cores", note=note),
        Row("process RSS", "resources", ((Agg("sum", sel("process_resident_memory_bytes")), "rss"),), unit="bytes",
            note=note),
    )


def plus_zero(a: Node, b: Node) -> Node:
    """a + (b or vector(0)): totals that stay defined before the first failure is counted."""
    return BinOp(a, "+", OrZero(b))


# --- the tables ---------------------------------------------------------------------------------------------

_DEMO = "mdash_demo_"
DEMO_WINDOW = 15.0  # the demo is scraped every 1-2 s: a short window shows injected faults within two refreshes
_CONF = "mdash_demo_confusion_total"


def _per_class(outcome: str) -> Agg:
    return by("class", _CONF, DEMO_WINDOW, outcome=outcome)


MDASH_DEMO = Preset(
    "mdash-demo", "mdash demo model server", (_DEMO,), ("docs/demo.md (mdash's own server)",),
    (
        latency(f"{_DEMO}request_duration_seconds_bucket", w=DEMO_WINDOW),
        throughput(s_rate(w=DEMO_WINDOW, metric=f"{_DEMO}requests_total")),
        error_ratio(s_rate(w=DEMO_WINDOW, metric=f"{_DEMO}requests_total", code="~5.."), s_rate(w=DEMO_WINDOW, metric=f"{_DEMO}requests_total")),
        Row("accuracy", "performance",
            ((BinOp(s_rate(w=DEMO_WINDOW, metric=f"{_DEMO}feedback_total", correct="true"), "/", s_rate(w=DEMO_WINDOW, metric=f"{_DEMO}feedback_total")),
              "accuracy"),), unit="ratio", warn=0.85, crit=0.75, better="higher", note="from ground-truth feedback"),
        Row("recall (macro)", "performance",
            ((Agg("avg", BinOp(_per_class("tp"), "/", BinOp(_per_class("tp"), "+", _per_class("fn")))), "recall"),),
            unit="ratio", warn=0.85, crit=0.75, better="higher", note="from ground-truth feedback"),
        Row("F1 (macro)", "performance",
            ((Agg("avg", BinOp(BinOp(Num(2), "*", _per_class("tp")), "/",
                               BinOp(BinOp(BinOp(Num(2), "*", _per_class("tp")), "+", _per_class("fp")), "+",
                                     _per_class("fn")))), "F1"),),
            unit="ratio", warn=0.85, crit=0.75, better="higher", note="from ground-truth feedback"),
        errors_by("code", f"{_DEMO}requests_total", DEMO_WINDOW, code="~[45].."),
        errors_by("reason", f"{_DEMO}inference_failures_total", DEMO_WINDOW),
        Row("timeouts", "exceptions", ((s_rate(w=DEMO_WINDOW, metric=f"{_DEMO}timeouts_total"), "timeouts"),), unit="/s", warn=0.01),
        Row("wrong predictions", "exceptions", ((s_rate(w=DEMO_WINDOW, metric=f"{_DEMO}feedback_total", correct="false"), "wrong"),),
            unit="/s", note="ground-truth feedback that disagreed (prediction noise)"),
        Row("mean predicted class", "exceptions",
            ((BinOp(s_rate(w=DEMO_WINDOW, metric=f"{_DEMO}prediction_value_sum"), "/", s_rate(w=DEMO_WINDOW, metric=f"{_DEMO}prediction_value_count")),
              "mean class"),), note="moves when inputs or outputs drift"),
        *process_rows(w=DEMO_WINDOW),
    ),
)

GENERIC_HTTP = Preset(
    "generic-http", "Python HTTP app (prometheus-fastapi-instrumentator)",
    ("http_request_duration_seconds", "http_requests_total"),
    ("https://github.com/trallnag/prometheus-fastapi-instrumentator#readme (default metrics)",),
    (
        latency("http_request_duration_seconds_bucket"),
        throughput(s_rate("http_requests_total")),
        error_ratio(s_rate("http_requests_total", status="~5.."), s_rate("http_requests_total"),
                    note='status is grouped ("5xx") by default; the regex matches both forms'),
        errors_by("status", "http_requests_total", status="~[45].."),
        *process_rows(MULTIPROCESS.format(server="the app", name="generic-http")),
    ),
)

_ML_OK, _ML_FAIL = "model_infer_request_success_total", "model_infer_request_failure_total"
MLSERVER = Preset(
    "mlserver", "Seldon MLServer", ("model_infer_request_", "rest_server_request"),
    ("https://docs.seldon.ai/mlserver/user-guide/metrics",
     "MLServer source: model_infer_request_duration is a Summary (count/sum only)"),
    (
        latency("rest_server_request_duration_seconds_bucket", path="~.*infer"),
        mean_latency(s_rate("model_infer_request_duration_sum"), s_rate("model_infer_request_duration_count"), 1,
                     "model latency", "percentiles come from the REST layer's histogram"),
        throughput(plus_zero(s_rate(_ML_OK), s_rate(_ML_FAIL))),
        error_ratio(s_rate(_ML_FAIL), plus_zero(s_rate(_ML_OK), s_rate(_ML_FAIL))),
        errors_by("status_code", "rest_server_requests_total", status_code="~[45].."),
        Row("inference failures", "exceptions", ((s_rate(_ML_FAIL), "failures"),), unit="/s"),
        *process_rows(MULTIPROCESS.format(server="MLServer (parallel_workers > 0)", name="mlserver")),
    ),
)

KSERVE = Preset(
    "kserve", "KServe Python model server", ("request_predict_seconds", "request_preprocess_seconds"),
    ("https://kserve.github.io/website/latest/modelserving/observability/prometheus_metrics",
     "kserve/python/kserve/kserve/metrics.py (PRE/POST/PREDICT/EXPLAIN histograms, label model_name)"),
    (
        latency("request_predict_seconds_bucket"),
        throughput(s_rate("request_predict_seconds_count")),
        Row("preprocess p95", "performance",
            ((Quantile(0.95, Agg("sum", rate("request_preprocess_seconds_bucket", WINDOW), by=("le",))), "p95"),),
            unit="s"),
        errors_by("response_code_class", "revision_request_count", response_code_class="~[45]xx"),
        *process_rows("KServe's model server exports no error counter; errors come from Knative's "
                      "revision_request_count (serverless mode only). " +
                      MULTIPROCESS.format(server="KServe (workers > 1)", name="kserve")),
    ),
)

_NV = "nv_inference_"
TRITON = Preset(
    "triton", "NVIDIA Triton Inference Server", (_NV, "nv_gpu_", "nv_cpu_"),
    ("https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/metrics.html",),
    (
        mean_latency(s_rate(f"{_NV}request_duration_us"), s_rate(f"{_NV}request_success"), 1e6,
                     extra="counters in µs without _total; enable *_summary_us for quantiles"),
        mean_latency(s_rate(f"{_NV}queue_duration_us"), s_rate(f"{_NV}request_success"), 1e6, "queue time"),
        throughput(plus_zero(s_rate(f"{_NV}request_success"), s_rate(f"{_NV}request_failure"))),
        error_ratio(s_rate(f"{_NV}request_failure"),
                    plus_zero(s_rate(f"{_NV}request_success"), s_rate(f"{_NV}request_failure"))),
        errors_by("reason", f"{_NV}request_failure"),
        Row("pending requests", "exceptions", ((Agg("sum", sel(f"{_NV}pending_request_count")), "pending"),)),
        Row("CPU utilization", "resources", ((Agg("avg", sel("nv_cpu_utilization")), "cpu"),), unit="ratio",
            note="Triton is C++: no process_* metrics"),
        Row("GPU utilization", "resources", ((Agg("avg", sel("nv_gpu_utilization"), by=("gpu_uuid",)),
                                              "{{gpu_uuid}}"),), unit="ratio"),
        Row("GPU memory used", "resources", ((Agg("sum", sel("nv_gpu_memory_used_bytes")), "used"),), unit="bytes"),
    ),
)

TORCHSERVE = Preset(
    "torchserve", "TorchServe (metrics_mode=prometheus)", ("ts_inference_", "ts_queue_latency"),
    ("https://pytorch.org/serve/metrics.html", "https://pytorch.org/serve/metrics_api.html"),
    (
        mean_latency(s_rate("ts_inference_latency_microseconds"), s_rate("ts_inference_requests_total"), 1e6,
                     extra="cumulative µs counters"),
        mean_latency(s_rate("ts_queue_latency_microseconds"), s_rate("ts_inference_requests_total"), 1e6,
                     "queue time"),
        throughput(s_rate("ts_inference_requests_total")),
        error_ratio(s_rate("Requests5XX"), s_rate("ts_inference_requests_total"),
                    note="Requests5XX has no model label and appears only after the first 5xx"),
        Row("4xx / 5xx", "exceptions",
            ((OrZero(s_rate("Requests4XX")), "4xx"), (OrZero(s_rate("Requests5XX")), "5xx")), unit="/s"),
        Row("CPU utilization", "resources", ((Agg("avg", sel("CPUUtilization")), "cpu %"),), unit="%",
            note="host-level, collected once a minute"),
        Row("memory used", "resources", ((Agg("avg", sel("MemoryUsed")), "MB"),), unit="MB",
            note="host-level, collected once a minute"),
        Row("GPU utilization", "resources", ((Agg("avg", sel("GPUUtilization")), "gpu %"),), unit="%"),
    ),
)

_BENTO = "bentoml_service_request_"
BENTOML = Preset(
    "bentoml", "BentoML", ("bentoml_service_",),
    ("https://docs.bentoml.com/en/latest/build-with-bentoml/observability/metrics.html",),
    (
        latency(f"{_BENTO}duration_seconds_bucket"),
        throughput(s_rate(f"{_BENTO}total")),
        error_ratio(s_rate(f"{_BENTO}total", http_response_code="~5.."), s_rate(f"{_BENTO}total")),
        errors_by("http_response_code", f"{_BENTO}total", http_response_code="~[45].."),
        Row("in progress", "exceptions", ((Agg("sum", sel(f"{_BENTO}in_progress")), "in progress"),)),
        *process_rows(MULTIPROCESS.format(server="BentoML (several API workers)", name="bentoml")),
    ),
)

_TF = ":tensorflow:serving:"
TFSERVING = Preset(
    "tfserving", "TensorFlow Serving (--monitoring_config_file)", (_TF,),
    ("https://www.tensorflow.org/tfx/serving/serving_config#monitoring_configuration",
     "tensorflow_serving/servables/tensorflow/util.cc (request_count, request_latency in µs)"),
    (
        latency(f"{_TF}request_latency_bucket", 1e6),
        throughput(s_rate(f"{_TF}request_count")),
        error_ratio(s_rate(f"{_TF}request_count", status="~[^O].*|O[^K].*"), s_rate(f"{_TF}request_count"),
                    note='counter without _total; any status other than "OK" is an error'),
        errors_by("status", f"{_TF}request_count", status="~[^O].*|O[^K].*"),
        Row("runtime latency p95", "performance",
            ((scaled(Quantile(0.95, Agg("sum", rate(f"{_TF}runtime_latency_bucket", WINDOW), by=("le",))), 1e6),
              "p95"),), unit="s"),
    ),
)

VLLM = Preset(
    "vllm", "vLLM (OpenAI-compatible server)", ("vllm:",),
    ("https://docs.vllm.ai/en/latest/usage/metrics.html", "https://docs.vllm.ai/en/latest/design/metrics.html"),
    (
        latency("vllm:e2e_request_latency_seconds_bucket"),
        Row("time to first token p95", "performance",
            ((Quantile(0.95, Agg("sum", rate("vllm:time_to_first_token_seconds_bucket", WINDOW), by=("le",))),
              "p95"),), unit="s"),
        throughput(s_rate("vllm:request_success_total")),
        error_ratio(s_rate("http_requests_total", status="~5.."), s_rate("http_requests_total"),
                    note="from the HTTP layer (vLLM counts no failed generations)"),
        Row("queue", "exceptions", ((Agg("sum", sel("vllm:num_requests_waiting")), "waiting"),
                                    (Agg("sum", sel("vllm:num_requests_running")), "running"))),
        Row("KV cache usage", "resources", ((Agg("max", sel("vllm:kv_cache_usage_perc")), "kv cache"),),
            unit="ratio", warn=0.9, crit=0.98, note="vllm:gpu_cache_usage_perc before v0.10"),
        *process_rows(MULTIPROCESS.format(server="vLLM (--api-server-count > 1)", name="vllm")),
    ),
)

_RAY = "ray_serve_"
RAYSERVE = Preset(
    "rayserve", "Ray Serve", (_RAY,),
    ("https://docs.ray.io/en/latest/serve/monitoring.html#built-in-ray-serve-metrics",),
    (
        latency(f"{_RAY}http_request_latency_ms_bucket", 1e3),
        throughput(s_rate(f"{_RAY}num_http_requests_total")),
        error_ratio(s_rate(f"{_RAY}num_http_error_requests_total", error_code="~5.."),
                    s_rate(f"{_RAY}num_http_requests_total"),
                    note="Ray < 2.9 names these counters without _total; metrics refresh every ~10 s"),
        errors_by("error_code", f"{_RAY}num_http_error_requests_total"),
        Row("queued queries", "exceptions", ((Agg("sum", sel(f"{_RAY}deployment_queued_queries")), "queued"),)),
        Row("processing latency p95", "performance",
            ((scaled(Quantile(0.95, Agg("sum", rate(f"{_RAY}deployment_processing_latency_ms_bucket", WINDOW),
                                        by=("le",))), 1e3), "p95"),), unit="s",
            note="Ray's export port has no process_* metrics: add \"+node\" or \"+cadvisor\" for resources"),
    ),
)

NODE = Preset(
    "node", "Prometheus node_exporter", ("node_cpu_seconds", "node_memory_"),
    ("https://github.com/prometheus/node_exporter#collectors",),
    (
        Row("CPU busy", "resources",
            ((BinOp(Num(1), "-", Agg("avg", Rate(sel("node_cpu_seconds_total", mode="idle"), WINDOW))), "busy"),),
            unit="ratio", warn=0.8, crit=0.95),
        Row("memory used", "resources",
            ((BinOp(Agg("sum", sel("node_memory_MemTotal_bytes")), "-", Agg("sum", sel("node_memory_MemAvailable_bytes"))),
              "used"),), unit="bytes"),
        Row("disk I/O", "resources", ((s_rate("node_disk_read_bytes_total"), "read"),
                                      (s_rate("node_disk_written_bytes_total"), "written")), unit="bytes/s"),
    ),
)

CADVISOR = Preset(
    "cadvisor", "cAdvisor (container metrics)", ("container_cpu_", "container_memory_"),
    ("https://github.com/google/cadvisor/blob/master/docs/storage/prometheus.md",),
    (
        Row("container CPU", "resources", ((s_rate("container_cpu_usage_seconds_total"), "cores"),), unit="cores"),
        Row("container memory", "resources", ((Agg("sum", sel("container_memory_working_set_bytes")), "working set"),),
            unit="bytes"),
        Row("container disk I/O", "resources", ((s_rate("container_fs_reads_bytes_total"), "read"),
                                                (s_rate("container_fs_writes_bytes_total"), "written")),
            unit="bytes/s"),
    ),
)

DCGM = Preset(
    "dcgm", "NVIDIA DCGM exporter", ("DCGM_FI_",),
    ("https://github.com/NVIDIA/dcgm-exporter/blob/main/etc/default-counters.csv",),
    (
        Row("GPU utilization", "resources", ((Agg("avg", sel("DCGM_FI_DEV_GPU_UTIL"), by=("gpu",)), "GPU {{gpu}}"),),
            unit="%"),
        Row("GPU memory used", "resources", ((Agg("sum", sel("DCGM_FI_DEV_FB_USED"), by=("gpu",)), "GPU {{gpu}}"),),
            unit="MiB"),
        Row("GPU power", "resources", ((Agg("sum", sel("DCGM_FI_DEV_POWER_USAGE")), "W"),), unit="W"),
        Row("GPU XID errors", "exceptions", ((Agg("max", sel("DCGM_FI_DEV_XID_ERRORS"), by=("gpu",)), "GPU {{gpu}}"),),
            warn=1, note="the value is the last XID error code; any non-zero value needs a look"),
    ),
)

# Detection order: specific servers first (vLLM also exports http_requests_total, so it precedes generic-http).
PRESETS: dict[str, Preset] = {p.name: p for p in (
    MDASH_DEMO, TRITON, TORCHSERVE, VLLM, RAYSERVE, BENTOML, TFSERVING, MLSERVER, KSERVE, GENERIC_HTTP,
    DCGM, CADVISOR, NODE,
)}
_LINE_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", re.M)


def detect(metrics_text: str) -> str:
    """The preset whose fingerprint one scrape shows ("generic-http" when none matches)."""
    from mdash.sources.scrape import parse

    try:
        names = parse(metrics_text).families()
    except SourceError:
        names = set(_LINE_NAME.findall(metrics_text))  # a page we cannot fully parse can still be recognized
    for preset in PRESETS.values():
        if any(name.startswith(prefix) for prefix in preset.fingerprint for name in names):
            return preset.name
    return "generic-http"


def get(name: str) -> list[Preset]:
    """The presets a name stands for ("a+b" combines); ConfigError naming the known ones otherwise."""
    parts = [p.strip() for p in (name or "generic-http").split("+")]
    unknown = [p for p in parts if p not in PRESETS and p != "auto"]
    if unknown:
        raise ConfigError(f"preset {unknown[0]!r} is unknown; use one of {', '.join(PRESETS)} (or combine with '+')")
    return [PRESETS["generic-http" if p == "auto" else p] for p in parts]


def default_panels(model: ModelConfig, preset: str) -> list[PanelSpec]:
    """The preset's panels for one model, every selector scoped by the model's selector."""
    scope = parse_selector(model.selector, f"model {model.name!r}: selector") if model.selector else ()
    specs = []
    for p in get(preset):
        for row in p.rows:
            queries = tuple(Query(node.scoped(scope), legend) for node, legend in row.queries)
            specs.append(PanelSpec(
                title=row.title, group=row.group, queries=queries, unit=row.unit, warn=row.warn, crit=row.crit,
                better=row.better, model=model.name, note=row.note,  # type: ignore[arg-type]
            ))
    return specs


def metric_names(preset: str) -> set[str]:
    """Every metric family a preset's queries read (for docs, fixtures and tests)."""
    out: set[str] = set()
    for p in get(preset):
        for row in p.rows:
            for node, _ in row.queries:
                out |= node.metrics()
    return out


__all__ = ["PRESETS", "Preset", "Row", "Selector", "default_panels", "detect", "get", "metric_names"]
