"""``/metrics`` with vLLM's metric names, labels, help texts and histogram buckets.

The names, types, help texts, labels and buckets come from one table, slolab.run.vllm_metrics
(vllm v0.33.0's PrometheusStatLogger), which the simulator's scrape uses too.

Where the values come from: the gauges and the token and preemption counters are read from the
engine at scrape time; the histograms are observed in engine time as the engine produces each
token and finishes each request (TTFT = first token − arrival at the server, as vLLM computes
it; queue time = first scheduled − reached the scheduler's queue; prefill, decode, inference and
e2e times likewise). Not exported: prefix-cache, LoRA, speculative-decoding, multi-modal and
``http_requests_total`` series (not modelled). Aborted requests (client gone) count in
``vllm:request_success{finished_reason="abort"}`` and are not observed in the latency
histograms; requests a failing model version answered with HTTP 500 (``--error-rate``,
serve/versionfaults.py) count in ``finished_reason="error"``, as the simulator counts them.
One metric is slolab's own: ``slolab_serve_token_lateness_seconds``, how long after
the engine's step end a streamed token was written to its client (wall clock minus engine
time), to show when the server itself cannot keep up.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from slolab.run import vllm_metrics as vm
from slolab.serve import realtime

LABELS = list(vm.LABELS)
FINISHED_REASONS = vm.FINISHED_REASONS
LATENESS_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0]


class Metrics(realtime.Observer):
    """The server's Prometheus registry; an observer of the real-time engine."""

    def __init__(self, model_name: str, max_model_len: int, engine_index: str = "0") -> None:
        self.registry = CollectorRegistry()
        self.labels = (model_name, engine_index)
        self.rt: realtime.RealtimeEngine | None = None  # set once the model has loaded
        self.registry.register(_EngineCollector(self))
        reg, labels = self.registry, self.labels

        def histogram(metric: vm.Metric) -> Histogram:
            buckets = list(metric.bucket_bounds(max_model_len))
            return Histogram(metric.name, metric.help, LABELS, buckets=buckets, registry=reg).labels(*labels)

        success = Counter(
            vm.REQUEST_SUCCESS.name, vm.REQUEST_SUCCESS.help, list(vm.REQUEST_SUCCESS.labels), registry=reg
        )
        self.success = {reason: success.labels(*labels, reason) for reason in FINISHED_REASONS}
        self.prompt_tokens = histogram(vm.REQUEST_PROMPT_TOKENS)
        self.generation_tokens = histogram(vm.REQUEST_GENERATION_TOKENS)
        self.max_num_generation_tokens = histogram(vm.REQUEST_MAX_NUM_GENERATION_TOKENS)
        self.params_n = histogram(vm.REQUEST_PARAMS_N)
        self.params_max_tokens = histogram(vm.REQUEST_PARAMS_MAX_TOKENS)
        self.ttft = histogram(vm.TIME_TO_FIRST_TOKEN)
        self.itl = histogram(vm.INTER_TOKEN_LATENCY)
        self.tpot = histogram(vm.REQUEST_TIME_PER_OUTPUT_TOKEN)
        self.e2e = histogram(vm.E2E_REQUEST_LATENCY)
        self.queue = histogram(vm.REQUEST_QUEUE_TIME)
        self.inference = histogram(vm.REQUEST_INFERENCE_TIME)
        self.prefill = histogram(vm.REQUEST_PREFILL_TIME)
        self.decode = histogram(vm.REQUEST_DECODE_TIME)
        self.lateness = Histogram(
            "slolab_serve_token_lateness_seconds",
            "slolab serve: wall-clock time from an engine step's end to its token written to the client.",
            LABELS,
            buckets=LATENESS_BUCKETS,
            registry=reg,
        ).labels(*labels)

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

        def gauge(metric: vm.Metric, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(metric.name, metric.help, labels=LABELS)
            family.add_metric(labels, value)
            return family

        def counter(metric: vm.Metric, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(metric.name, metric.help, labels=LABELS)
            family.add_metric(labels, value)
            return family

        yield gauge(vm.NUM_REQUESTS_RUNNING, engine.num_requests_running if engine else 0)
        yield gauge(vm.NUM_REQUESTS_WAITING, engine.num_requests_waiting if engine else 0)
        yield gauge(vm.KV_CACHE_USAGE_PERC, engine.kv_cache_usage_perc if engine else 0.0)
        prompt, generation, preemptions = rt.totals() if rt is not None else (0, 0, 0)
        yield counter(vm.NUM_PREEMPTIONS, preemptions)
        yield counter(vm.PROMPT_TOKENS, prompt)
        yield counter(vm.GENERATION_TOKENS, generation)
