"""``/metrics`` with vLLM's metric names, labels, help texts and histogram buckets.

Upstream: vllm v0.33.0 vllm/v1/metrics/loggers.py (PrometheusStatLogger) and buckets.py, as
summarised in research/components.md §1: every metric has the labels ``model_name``
(``--served-model-name``) and ``engine`` ("0"); counters are declared without ``_total``
(prometheus_client appends it); ``vllm:request_success`` adds ``finished_reason``.

Where the values come from: the gauges and the token and preemption counters are read from the
engine at scrape time; the histograms are observed in engine time as the engine produces each
token and finishes each request (TTFT = first token − arrival at the server, as vLLM computes
it; queue time = first scheduled − reached the scheduler's queue; prefill, decode, inference and
e2e times likewise). Not exported: prefix-cache, LoRA, speculative-decoding, multi-modal and
``http_requests_total`` series (not modelled). Aborted requests (client gone) count in
``vllm:request_success{finished_reason="abort"}`` and are not observed in the latency
histograms. One metric is slolab's own: ``slolab_serve_token_lateness_seconds``, how long after
the engine's step end a streamed token was written to its client (wall clock minus engine
time), to show when the server itself cannot keep up.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from slolab.serve import realtime

LABELS = ["model_name", "engine"]
FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")  # vllm v1 FinishReason
TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5]
TTFT_BUCKETS += [10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
ITL_BUCKETS += [20.0, 40.0, 80.0]
LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0]
LATENCY_BUCKETS += [120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]
LATENESS_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0]


def build_1_2_5_buckets(max_value: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... up to ``max_value`` (vllm v1/metrics/loggers.py)."""
    buckets: list[int] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > max_value:
                return buckets
            buckets.append(value)
        exponent += 1


class Metrics(realtime.Observer):
    """The server's Prometheus registry; an observer of the real-time engine."""

    def __init__(self, model_name: str, max_model_len: int, engine_index: str = "0") -> None:
        self.registry = CollectorRegistry()
        self.labels = (model_name, engine_index)
        self.rt: realtime.RealtimeEngine | None = None  # set once the model has loaded
        self.registry.register(_EngineCollector(self))
        reg, labels = self.registry, self.labels

        def histogram(name: str, doc: str, buckets: list) -> Histogram:
            return Histogram(name, doc, LABELS, buckets=buckets, registry=reg).labels(*labels)

        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            [*LABELS, "finished_reason"],
            registry=reg,
        )
        self.success = {reason: success.labels(*labels, reason) for reason in FINISHED_REASONS}
        tokens = build_1_2_5_buckets(max_model_len)
        self.prompt_tokens = histogram(
            "vllm:request_prompt_tokens", "Number of prefill tokens processed.", tokens
        )
        self.generation_tokens = histogram(
            "vllm:request_generation_tokens", "Number of generation tokens processed.", tokens
        )
        self.max_num_generation_tokens = histogram(
            "vllm:request_max_num_generation_tokens",
            "Histogram of maximum number of requested generation tokens.",
            tokens,
        )
        self.params_n = histogram(
            "vllm:request_params_n", "Histogram of the n request parameter.", [1, 2, 5, 10, 20]
        )
        self.params_max_tokens = histogram(
            "vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", tokens
        )
        self.ttft = histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS
        )
        self.itl = histogram(
            "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS
        )
        self.tpot = histogram(
            "vllm:request_time_per_output_token_seconds",
            "Histogram of time_per_output_token_seconds per request.",
            ITL_BUCKETS,
        )
        self.e2e = histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            LATENCY_BUCKETS,
        )
        self.queue = histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            LATENCY_BUCKETS,
        )
        self.inference = histogram(
            "vllm:request_inference_time_seconds",
            "Histogram of time spent in RUNNING phase for request.",
            LATENCY_BUCKETS,
        )
        self.prefill = histogram(
            "vllm:request_prefill_time_seconds",
            "Histogram of time spent in PREFILL phase for request.",
            LATENCY_BUCKETS,
        )
        self.decode = histogram(
            "vllm:request_decode_time_seconds",
            "Histogram of time spent in DECODE phase for request.",
            LATENCY_BUCKETS,
        )
        self.lateness = histogram(
            "slolab_serve_token_lateness_seconds",
            "slolab serve: wall-clock time from an engine step's end to its token written to the client.",
            LATENESS_BUCKETS,
        )

    # ---------------------------------------------------------------- observer

    def on_tokens(self, flow: realtime.Flow, new_tokens: int, step_end_s: float) -> None:
        req = flow.req
        if flow.ready == 0:
            if req.first_token_s is not None:
                self.ttft.observe(req.first_token_s - req.arrival_s)
            new_tokens -= 1
        if new_tokens > 0:
            gap_s = (step_end_s - flow.last_token_s) if flow.ready else 0.0
            for _ in range(new_tokens):
                self.itl.observe(gap_s)

    def on_finished(self, flow: realtime.Flow) -> None:
        req, seq = flow.req, flow.seq
        if not req.ok or req.finish_s is None or req.first_token_s is None or seq.scheduled_s is None:
            self.success["abort"].inc()
            return
        self.success["length"].inc()  # exactly max_tokens were generated (ignore_eos)
        n = req.output_tokens
        queued_s = seq.queued_s if seq.queued_s is not None else seq.scheduled_s
        self.e2e.observe(req.finish_s - req.arrival_s)
        self.queue.observe(seq.scheduled_s - queued_s)
        self.prefill.observe(req.first_token_s - seq.scheduled_s)
        self.inference.observe(req.finish_s - seq.scheduled_s)
        self.decode.observe(req.finish_s - req.first_token_s)
        if n > 1:
            self.tpot.observe((req.finish_s - req.first_token_s) / (n - 1))
        self.prompt_tokens.observe(req.prompt_tokens)
        self.generation_tokens.observe(n)
        self.max_num_generation_tokens.observe(req.max_tokens)
        self.params_max_tokens.observe(req.max_tokens)
        self.params_n.observe(1)

    def on_written(self, lateness_s: float) -> None:
        """A streamed token was written ``lateness_s`` after its step ended."""
        self.lateness.observe(lateness_s)

    # ---------------------------------------------------------------- exposition

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition and its content type: always the text format 0.0.4, whatever ``accept``.

        Prometheus 2.x asks for OpenMetrics with ``escaping=underscores``, and prometheus_client
        0.26 then writes sample names as ``vllm_…`` (prometheus/client_python#1177), so every
        ``vllm:`` query would find nothing. The text format keeps the names as vLLM serves them.
        """
        if self.rt is not None:
            self.rt.sync()  # the gauges as of now
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4


class _EngineCollector(Collector):
    """Gauges and counters read from the engine at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        labels = list(self.metrics.labels)
        rt = self.metrics.rt
        engine = rt.engine if rt is not None else None

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=LABELS)
            family.add_metric(labels, value)
            return family

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=LABELS)
            family.add_metric(labels, value)
            return family

        yield gauge(
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            engine.num_requests_running if engine else 0,
        )
        yield gauge(
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            engine.num_requests_waiting if engine else 0,
        )
        yield gauge(
            "vllm:kv_cache_usage_perc",
            "KV-cache usage. 1 means 100 percent usage.",
            engine.kv_cache_usage_perc if engine else 0.0,
        )
        prompt, generation, preemptions = rt.totals() if rt is not None else (0, 0, 0)
        yield counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", preemptions)
        yield counter("vllm:prompt_tokens", "Number of prefill tokens processed.", prompt)
        yield counter("vllm:generation_tokens", "Number of generation tokens processed.", generation)
