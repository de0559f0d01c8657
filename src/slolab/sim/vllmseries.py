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
  max_tokens) or ``"abort"`` (client gone), ``"error"`` for the requests a failing model
  version (sim/modelversion.py) refused, and for a finished request e2e, queue, prefill,
  inference, decode, time per output token and the token-count histograms; inter-token latency
  for every token gap the client received (finished or aborted).
Everything is per container instance: a restarted container is a new engine and starts at 0.

Differences from serve, each a matter of when, not of what: inter-token gaps are observed when
the request leaves the engine (serve observes each as it writes the token), so a window that
cuts a long request counts its gaps in the later scrape. Not exposed: the ``_created`` samples
prometheus_client adds, and slolab serve's own ``slolab_serve_token_lateness_seconds``.
"""

from __future__ import annotations

from collections.abc import Callable
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

    __slots__ = ("_edges", "bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self._edges = np.asarray(bounds, dtype=np.float64)
        self.counts = np.zeros(len(bounds) + 1, dtype=np.int64)
        self.sum = 0.0

    def observe_many(self, values: np.ndarray) -> None:
        if len(values):
            idx = np.searchsorted(self._edges, values, side="left")
            self.counts += np.bincount(idx, minlength=len(self.counts))
            self.sum += float(values.sum())

    def observe_counted(self, values: np.ndarray, times: np.ndarray) -> None:
        """Observe each of ``values`` ``times[i]`` times."""
        if len(values):
            idx = np.searchsorted(self._edges, values, side="left")
            self.counts += np.bincount(idx, weights=times, minlength=len(self.counts)).astype(np.int64)
            self.sum += float(values @ times)


class ServerSeries:
    """The /metrics of one engine instance (one container start), with the target's labels."""

    def __init__(self, engine: Any, target_labels: dict[str, str]) -> None:
        self.engine = engine
        engine.record_requests = True
        max_len = engine.config.max_model_len
        base: dict[str, str] = {**target_labels, "model_name": engine.config.served_model_name, "engine": "0"}
        self.hist = {m.name: _Histogram(m.bucket_bounds(max_len)) for m in _HISTOGRAMS}
        self.success = dict.fromkeys(vm.FINISHED_REASONS, 0)
        self._base = base
        self._keyed = False

    def _make_keys(self) -> None:
        """Each sample's label set (made at the first write, which may be long after the scrape)."""
        base = self._base
        self._keyed = True

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

    def _observe(self, first_tokens: list[Any], done: list[Any]) -> None:
        """Observe the requests the engine listed since the last scrape."""
        hist = self.hist
        if first_tokens:
            ttft = [
                seq.req.first_token_s - seq.req.arrival_s
                for seq in first_tokens
                if seq.req.first_token_s is not None
            ]
            hist[vm.TIME_TO_FIRST_TOKEN.name].observe_many(np.array(ttft))
        if not done:
            return
        rows: list[tuple[float, float, float, float, float, int, int, int]] = []
        for seq in done:
            req = seq.req
            if not req.ok or req.finish_s is None or req.first_token_s is None or seq.scheduled_s is None:
                self.success["abort"] += 1
                continue
            queued_s = seq.queued_s if seq.queued_s is not None else seq.scheduled_s
            rows.append(
                (
                    req.arrival_s,
                    queued_s,
                    seq.scheduled_s,
                    req.first_token_s,
                    req.finish_s,
                    req.output_tokens,
                    req.prompt_tokens,
                    req.max_tokens,
                )
            )
        self.success["length"] += len(rows)  # exactly max_tokens were generated (ignore_eos)
        if rows:
            arrival, queued, scheduled, first, finish, n, prompt, max_tokens = np.array(rows).T
            several = n > 1
            observed = {
                vm.E2E_REQUEST_LATENCY: finish - arrival,
                vm.REQUEST_QUEUE_TIME: scheduled - queued,
                vm.REQUEST_PREFILL_TIME: first - scheduled,
                vm.REQUEST_INFERENCE_TIME: finish - scheduled,
                vm.REQUEST_DECODE_TIME: finish - first,
                vm.REQUEST_TIME_PER_OUTPUT_TOKEN: (finish - first)[several] / (n[several] - 1),
                vm.REQUEST_PROMPT_TOKENS: prompt,
                vm.REQUEST_GENERATION_TOKENS: n,
                vm.REQUEST_MAX_NUM_GENERATION_TOKENS: max_tokens,
                vm.REQUEST_PARAMS_MAX_TOKENS: max_tokens,
                vm.REQUEST_PARAMS_N: np.ones(len(rows)),
            }
            for metric, values in observed.items():
                hist[metric.name].observe_many(values)
        hist[vm.INTER_TOKEN_LATENCY.name].observe_counted(
            *token_gap_counts(self.engine.step_ends, [seq.segments for seq in done])
        )

    def scrape(self) -> Callable[[], dict[tsdb.Labels, float]]:
        """One scrape of this instance's /metrics: what the engine says now is read now (gauges,
        counters, the requests it listed since the last scrape); the histograms are computed
        from those when the returned function is called, which must happen in scrape order
        (sim/scrape.py calls them when the TSDB is read). The samples are the same either way:
        a listed request's fields are final."""
        engine = self.engine
        gauges = (
            float(engine.num_requests_running),
            float(engine.num_requests_waiting),
            float(engine.kv_cache_usage_perc),
        )
        counters = (
            float(engine.num_preemptions_total),
            float(engine.prompt_tokens_total),
            float(engine.generation_tokens_total),
        )
        first_tokens, done = engine.first_tokens, engine.done
        engine.first_tokens, engine.done = [], []
        # requests a model version failed before the engine took them (sim/modelversion.py)
        errors = int(getattr(engine, "request_errors_total", 0))
        return lambda: self._samples(gauges, counters, first_tokens, done, errors)

    def samples(self) -> dict[tsdb.Labels, float]:
        """One scrape, computed at once."""
        return self.scrape()()

    def _samples(
        self,
        gauges: tuple[float, float, float],
        counters: tuple[float, float, float],
        first_tokens: list[Any],
        done: list[Any],
        errors: int = 0,
    ) -> dict[tsdb.Labels, float]:
        if not self._keyed:
            self._make_keys()
        self.success["error"] = errors
        out: dict[tsdb.Labels, float] = dict(zip((*self._gauge_keys, self._kv_key), gauges, strict=True))
        out.update(zip(self._counter_keys, counters, strict=True))
        self._observe(first_tokens, done)
        for reason, k in self._success_keys.items():
            out[k] = float(self.success[reason])
        for name, (buckets, sum_key, count_key) in self._hist_keys.items():
            h = self.hist[name]
            cumulative = np.cumsum(h.counts).astype(np.float64).tolist()
            out.update(zip(buckets, cumulative, strict=True))
            out[sum_key] = h.sum
            out[count_key] = cumulative[-1]
        return out


def token_gap_counts(
    step_ends: list[float], requests: list[list[list[int]]]
) -> tuple[np.ndarray, np.ndarray]:
    """The gaps between the successive tokens each client received (what serve's ITL observes),
    for requests of one engine, as (gap, how many clients received it). A request's token times
    are the engine's ``step_ends`` at the indices of its step ranges (sim/engine.py
    ``_Seq.segments``); its gaps are counted per engine step instead of listed per token: within
    a segment it gets a token at each step, so the gap between steps j-1 and j is received once
    by every segment that spans both; between two segments of a preempted request, one gap from
    the last token before to the first after. The cost follows the engine's steps, not the
    tokens served (millions in a grade)."""
    starts: list[int] = []
    stops: list[int] = []
    before: list[int] = []  # the last token's step before a request's next segment
    after: list[int] = []  # that next segment's first step
    for segments in requests:
        last = -1
        for a, b in segments:
            if b > a:
                starts.append(a)
                stops.append(b)
                if last >= 0:
                    before.append(last)
                    after.append(a)
                last = b - 1
    if not starts:
        return np.empty(0), np.empty(0)
    lo, hi = min(starts), max(stops)
    times = np.asarray(step_ends[lo:hi], dtype=np.float64)
    n = hi - lo
    # spans[k]: the segments that hold steps lo+k-1 and lo+k (a + 1 <= lo+k < b)
    spans = np.cumsum(
        np.bincount(np.array(starts) - lo + 1, minlength=n + 1)[: n + 1]
        - np.bincount(np.array(stops) - lo, minlength=n + 1)[: n + 1]
    )[1:n]
    received = spans > 0
    values = np.diff(times)[received]
    counts = spans[received].astype(np.float64)
    if before:
        cross = times[np.array(after) - lo] - times[np.array(before) - lo]
        values = np.concatenate([values, cross])
        counts = np.concatenate([counts, np.ones(len(cross))])
    return values, counts
