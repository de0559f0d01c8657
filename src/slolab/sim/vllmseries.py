"""The vLLM series one model-server container exposes on /metrics, as the simulator scrapes them.

Upstream: vllm v0.33.0 vllm/v1/metrics/loggers.py (PrometheusStatLogger), through the table in
slolab.run.vllm_metrics that ``slolab serve`` exposes too; prometheus_client's histogram (an
observation lands in the first bucket whose upper bound is >= the value; buckets are exposed
cumulative, with ``+Inf``, ``_sum`` and ``_count``; counters gain ``_total``).

What each value is, the same as slolab/serve/metrics.py computes it:
- gauges (running, waiting, KV-cache usage) are read from the engine at scrape time;
- prompt/generation token and preemption counters are the engine's own totals;
- per request, from the engine's ``first_tokens`` and ``done`` lists (sim/engine.py's metrics
  hook): TTFT (first token - arrival) once its first token reached the client; when it leaves
  the engine, ``request_success{finished_reason="length"}`` (every request generates exactly
  max_tokens) or ``"abort"`` (client gone), and for a finished request e2e, queue, prefill,
  inference, decode, time per output token and the token-count histograms; inter-token latency
  for every token gap the client received (finished or aborted).
Everything is per container instance: a restarted container is a new engine and starts at 0.

Differences from serve, each a matter of when, not of what: inter-token gaps are observed when
the request leaves the engine (serve observes each as it writes the token), so a window that
cuts a long request counts its gaps in the later scrape. Not exposed: the ``_created`` samples
prometheus_client adds, and slolab serve's own ``slolab_serve_token_lateness_seconds``.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np

from slolab.promql import tsdb
from slolab.run import vllm_metrics as vm

#: histograms observed per finished request: (metric, how the value is read from a request)
_PER_REQUEST = (
    vm.E2E_REQUEST_LATENCY,
    vm.REQUEST_QUEUE_TIME,
    vm.REQUEST_PREFILL_TIME,
    vm.REQUEST_INFERENCE_TIME,
    vm.REQUEST_DECODE_TIME,
    vm.REQUEST_TIME_PER_OUTPUT_TOKEN,
    vm.REQUEST_PROMPT_TOKENS,
    vm.REQUEST_GENERATION_TOKENS,
    vm.REQUEST_MAX_NUM_GENERATION_TOKENS,
    vm.REQUEST_PARAMS_MAX_TOKENS,
    vm.REQUEST_PARAMS_N,
)
_HISTOGRAMS = (vm.TIME_TO_FIRST_TOKEN, vm.INTER_TOKEN_LATENCY, *_PER_REQUEST)


def go_float(value: float) -> str:
    """A bucket bound as prometheus_client writes ``le`` (Python repr; Go's exponent form from 1e6)."""
    if value == float("inf"):
        return "+Inf"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}".rstrip("0").rstrip(".")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


class _Histogram:
    """One histogram's bucket counts (not cumulative), sum and count."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def observe_many(self, values: np.ndarray) -> None:
        if len(values):
            idx = np.searchsorted(np.asarray(self.bounds), values, side="left")
            for i, n in enumerate(np.bincount(idx, minlength=len(self.counts)).tolist()):
                self.counts[i] += n
            self.sum += float(values.sum())


class ServerSeries:
    """The /metrics of one engine instance (one container start), with the target's labels."""

    def __init__(self, engine: Any, target_labels: dict[str, str]) -> None:
        self.engine = engine
        engine.record_requests = True
        max_len = engine.config.max_model_len
        base = {**target_labels, "model_name": engine.config.served_model_name, "engine": "0"}
        self.hist = {m.name: _Histogram(m.bucket_bounds(max_len)) for m in _HISTOGRAMS}
        self.success = dict.fromkeys(vm.FINISHED_REASONS, 0)

        def key(name: str, **extra: str) -> tsdb.Labels:
            return tsdb.labels_of({**base, **extra, "__name__": name})

        self._gauge_keys = [key(m.name) for m in (vm.NUM_REQUESTS_RUNNING, vm.NUM_REQUESTS_WAITING)]
        self._kv_key = key(vm.KV_CACHE_USAGE_PERC.name)
        self._counter_keys = [
            key(m.sample_name) for m in (vm.NUM_PREEMPTIONS, vm.PROMPT_TOKENS, vm.GENERATION_TOKENS)
        ]
        self._success_keys = {
            r: key(vm.REQUEST_SUCCESS.sample_name, finished_reason=r) for r in vm.FINISHED_REASONS
        }
        self._hist_keys: dict[str, tuple[list[tsdb.Labels], tsdb.Labels, tsdb.Labels]] = {}
        for m in _HISTOGRAMS:
            bounds = (*self.hist[m.name].bounds, float("inf"))
            buckets = [key(f"{m.name}_bucket", le=go_float(b)) for b in bounds]
            self._hist_keys[m.name] = (buckets, key(f"{m.name}_sum"), key(f"{m.name}_count"))

    def _observe(self) -> None:
        """Drain the engine's request lists into the histograms and counters."""
        engine = self.engine
        hist = self.hist
        if engine.first_tokens:
            ttft = hist[vm.TIME_TO_FIRST_TOKEN.name]
            for seq in engine.first_tokens:
                req = seq.req
                if req.first_token_s is not None:
                    ttft.observe(req.first_token_s - req.arrival_s)
            engine.first_tokens.clear()
        if not engine.done:
            return
        gaps: list[np.ndarray] = []
        for seq in engine.done:
            req = seq.req
            gaps.append(_token_gaps(req))
            if not req.ok or req.finish_s is None or req.first_token_s is None or seq.scheduled_s is None:
                self.success["abort"] += 1
                continue
            self.success["length"] += 1
            n = req.output_tokens
            queued_s = seq.queued_s if seq.queued_s is not None else seq.scheduled_s
            hist[vm.E2E_REQUEST_LATENCY.name].observe(req.finish_s - req.arrival_s)
            hist[vm.REQUEST_QUEUE_TIME.name].observe(seq.scheduled_s - queued_s)
            hist[vm.REQUEST_PREFILL_TIME.name].observe(req.first_token_s - seq.scheduled_s)
            hist[vm.REQUEST_INFERENCE_TIME.name].observe(req.finish_s - seq.scheduled_s)
            hist[vm.REQUEST_DECODE_TIME.name].observe(req.finish_s - req.first_token_s)
            if n > 1:
                hist[vm.REQUEST_TIME_PER_OUTPUT_TOKEN.name].observe(
                    (req.finish_s - req.first_token_s) / (n - 1)
                )
            hist[vm.REQUEST_PROMPT_TOKENS.name].observe(req.prompt_tokens)
            hist[vm.REQUEST_GENERATION_TOKENS.name].observe(n)
            hist[vm.REQUEST_MAX_NUM_GENERATION_TOKENS.name].observe(req.max_tokens)
            hist[vm.REQUEST_PARAMS_MAX_TOKENS.name].observe(req.max_tokens)
            hist[vm.REQUEST_PARAMS_N.name].observe(1)
        engine.done.clear()
        hist[vm.INTER_TOKEN_LATENCY.name].observe_many(np.concatenate(gaps))

    def samples(self) -> dict[tsdb.Labels, float]:
        """One scrape: every sample of this instance's /metrics."""
        engine = self.engine
        out: dict[tsdb.Labels, float] = {}
        running, waiting = self._gauge_keys
        out[running] = float(engine.num_requests_running)
        out[waiting] = float(engine.num_requests_waiting)
        out[self._kv_key] = float(engine.kv_cache_usage_perc)
        self._observe()
        preemptions, prompt, generation = self._counter_keys
        out[preemptions] = float(engine.num_preemptions_total)
        out[prompt] = float(engine.prompt_tokens_total)
        out[generation] = float(engine.generation_tokens_total)
        for reason, k in self._success_keys.items():
            out[k] = float(self.success[reason])
        for name, (buckets, sum_key, count_key) in self._hist_keys.items():
            h = self.hist[name]
            total = 0
            for k, n in zip(buckets, h.counts, strict=True):
                total += n
                out[k] = float(total)
            out[sum_key] = h.sum
            out[count_key] = float(total)
        return out


def _token_gaps(req: Any) -> np.ndarray:
    """Gaps between the successive tokens the client received (what serve's ITL observes)."""
    ends = req.step_ends
    if ends is None or not req.segments:
        return np.empty(0)
    lo, hi = req.segments[0][0], req.segments[-1][1]
    window = np.asarray(ends[lo:hi])
    if len(req.segments) == 1:
        return np.diff(window)
    idx = np.concatenate([np.arange(a - lo, b - lo) for a, b in req.segments if b > a])
    return np.diff(window[idx])
