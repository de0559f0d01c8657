"""vLLM's Prometheus metrics as a table: names, types, help texts, labels and buckets.

Upstream: vllm v0.33.0 vllm/v1/metrics/loggers.py (PrometheusStatLogger) and
vllm/v1/metrics/buckets.py, as summarised in research/components.md §1. Every engine metric has
the labels ``model_name`` (``--served-model-name``) and ``engine`` (the data-parallel engine
index, "0"); ``vllm:request_success`` adds ``finished_reason``. Counters are named without
``_total`` as vLLM declares them; the exposition (prometheus_client, or the simulator's scrape)
appends it to the sample name.

One table serves both producers of these series: ``slolab serve``'s /metrics
(slolab.serve.metrics) and the simulator's scrape of its model-server pods, so a query written
against one finds the same names, labels and buckets on the other. Not in the table, because
nothing slolab models produces them: prefix-cache, LoRA, speculative-decoding, multi-modal,
sleep-state and ``http_requests_total`` series.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

LABELS: tuple[str, ...] = ("model_name", "engine")
FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")  # vllm v1 FinishReason

TTFT_BUCKETS: tuple[float, ...] = (
    *(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5),
    *(10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0),
)
ITL_BUCKETS: tuple[float, ...] = (
    *(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0),
    *(20.0, 40.0, 80.0),
)
LATENCY_BUCKETS: tuple[float, ...] = (
    *(0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0),
    *(120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0),
)
PARAMS_N_BUCKETS: tuple[float, ...] = (1, 2, 5, 10, 20)

Kind = Literal["counter", "gauge", "histogram"]


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric family as vLLM declares it."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = LABELS
    #: histogram upper bounds (without +Inf); "tokens" means the 1-2-5 series up to max_model_len
    buckets: tuple[float, ...] | Literal["tokens"] | None = None

    def bucket_bounds(self, max_model_len: int) -> tuple[float, ...]:
        if self.buckets == "tokens":
            return tuple(float(b) for b in build_1_2_5_buckets(max_model_len))
        return tuple(self.buckets or ())

    @property
    def sample_name(self) -> str:
        """The name of its samples: counters gain ``_total``; histograms have _bucket/_sum/_count."""
        return f"{self.name}_total" if self.kind == "counter" else self.name


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


NUM_REQUESTS_RUNNING = Metric(
    "vllm:num_requests_running", "gauge", "Number of requests in model execution batches."
)
NUM_REQUESTS_WAITING = Metric(
    "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed."
)
KV_CACHE_USAGE_PERC = Metric(
    "vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage."
)
NUM_PREEMPTIONS = Metric(
    "vllm:num_preemptions", "counter", "Cumulative number of preemption from the engine."
)
PROMPT_TOKENS = Metric("vllm:prompt_tokens", "counter", "Number of prefill tokens processed.")
GENERATION_TOKENS = Metric("vllm:generation_tokens", "counter", "Number of generation tokens processed.")
REQUEST_SUCCESS = Metric(
    "vllm:request_success",
    "counter",
    "Count of successfully processed requests.",
    labels=(*LABELS, "finished_reason"),
)
REQUEST_PROMPT_TOKENS = Metric(
    "vllm:request_prompt_tokens", "histogram", "Number of prefill tokens processed.", buckets="tokens"
)
REQUEST_GENERATION_TOKENS = Metric(
    "vllm:request_generation_tokens", "histogram", "Number of generation tokens processed.", buckets="tokens"
)
REQUEST_MAX_NUM_GENERATION_TOKENS = Metric(
    "vllm:request_max_num_generation_tokens",
    "histogram",
    "Histogram of maximum number of requested generation tokens.",
    buckets="tokens",
)
REQUEST_PARAMS_N = Metric(
    "vllm:request_params_n", "histogram", "Histogram of the n request parameter.", buckets=PARAMS_N_BUCKETS
)
REQUEST_PARAMS_MAX_TOKENS = Metric(
    "vllm:request_params_max_tokens",
    "histogram",
    "Histogram of the max_tokens request parameter.",
    buckets="tokens",
)
TIME_TO_FIRST_TOKEN = Metric(
    "vllm:time_to_first_token_seconds",
    "histogram",
    "Histogram of time to first token in seconds.",
    buckets=TTFT_BUCKETS,
)
INTER_TOKEN_LATENCY = Metric(
    "vllm:inter_token_latency_seconds",
    "histogram",
    "Histogram of inter-token latency in seconds.",
    buckets=ITL_BUCKETS,
)
REQUEST_TIME_PER_OUTPUT_TOKEN = Metric(
    "vllm:request_time_per_output_token_seconds",
    "histogram",
    "Histogram of time_per_output_token_seconds per request.",
    buckets=ITL_BUCKETS,
)
E2E_REQUEST_LATENCY = Metric(
    "vllm:e2e_request_latency_seconds",
    "histogram",
    "Histogram of e2e request latency in seconds.",
    buckets=LATENCY_BUCKETS,
)
REQUEST_QUEUE_TIME = Metric(
    "vllm:request_queue_time_seconds",
    "histogram",
    "Histogram of time spent in WAITING phase for request.",
    buckets=LATENCY_BUCKETS,
)
REQUEST_INFERENCE_TIME = Metric(
    "vllm:request_inference_time_seconds",
    "histogram",
    "Histogram of time spent in RUNNING phase for request.",
    buckets=LATENCY_BUCKETS,
)
REQUEST_PREFILL_TIME = Metric(
    "vllm:request_prefill_time_seconds",
    "histogram",
    "Histogram of time spent in PREFILL phase for request.",
    buckets=LATENCY_BUCKETS,
)
REQUEST_DECODE_TIME = Metric(
    "vllm:request_decode_time_seconds",
    "histogram",
    "Histogram of time spent in DECODE phase for request.",
    buckets=LATENCY_BUCKETS,
)

#: Every metric of the table, in the order /metrics lists them.
TABLE: tuple[Metric, ...] = (
    NUM_REQUESTS_RUNNING,
    NUM_REQUESTS_WAITING,
    KV_CACHE_USAGE_PERC,
    NUM_PREEMPTIONS,
    PROMPT_TOKENS,
    GENERATION_TOKENS,
    REQUEST_SUCCESS,
    REQUEST_PROMPT_TOKENS,
    REQUEST_GENERATION_TOKENS,
    REQUEST_MAX_NUM_GENERATION_TOKENS,
    REQUEST_PARAMS_N,
    REQUEST_PARAMS_MAX_TOKENS,
    TIME_TO_FIRST_TOKEN,
    INTER_TOKEN_LATENCY,
    REQUEST_TIME_PER_OUTPUT_TOKEN,
    E2E_REQUEST_LATENCY,
    REQUEST_QUEUE_TIME,
    REQUEST_INFERENCE_TIME,
    REQUEST_PREFILL_TIME,
    REQUEST_DECODE_TIME,
)
