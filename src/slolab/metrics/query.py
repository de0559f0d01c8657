"""PromQL for graders on a real Prometheus, through prometheus-api-client 0.7.

``query`` and ``query_range`` return what ``PrometheusConnect.custom_query`` /
``custom_query_range`` return (the ``data.result`` list of the HTTP API,
https://prometheus.io/docs/prometheus/latest/querying/api/), the shapes ``lab.prom`` promises.
``scalar`` and the vLLM helpers return one plain float and raise instead of guessing:

- ``PrometheusUnreachable`` when Prometheus does not answer (no retries: a grader must learn
  at once that its metrics source is down);
- ``NoData`` when the query matched no series, or the value is NaN (``histogram_quantile``
  over a window without observations is 0/0). No data is never a pass;
- ``QueryError`` for a query Prometheus rejects, or one that gives several series where one
  was meant.

The vLLM queries follow research/components.md §1 (vLLM v0.10+ metric names, e.g.
``histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))``).
A ``rate`` window must span at least two scrapes (``[10s]`` at a 1 s scrape interval, ``[1m]``
at Prometheus' default 15 s), and it reads low until the target has been scraped for the whole
window (``rate`` extrapolates only a little past the first and last sample: two samples 1 s
apart in a 5 s window give about 2/5 of the true rate). A histogram quantile is a ratio, so it
is spared that, but it is only as fine as its buckets: vLLM's TTFT buckets around 50 ms are
20 ms wide and the result is a linear interpolation inside one.

Names: Prometheus 2.x asks targets for OpenMetrics with ``escaping=underscores``, and
prometheus_client 0.26 then writes ``vllm_…`` for ``vllm:…`` in sample lines
(prometheus/client_python#1177). An exporter built on prometheus_client must serve the text
format 0.0.4 (``generate_latest``) for these queries to find anything.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from slolab import errors

#: A point in time: unix seconds, an aware datetime, or None for "now".
At = float | dt.datetime | None


class PrometheusUnreachable(errors.BackendError):
    """Prometheus did not answer."""


class NoData(errors.BackendError):
    """The query matched nothing, or its value is NaN. Never a pass."""


class QueryError(errors.BackendError):
    """Prometheus rejected the query, or it did not give the one series asked for."""


def selector(labels: dict[str, str] | None) -> str:
    """``{k="v",...}``, values quoted as JSON strings (PromQL accepts Go's escapes); empty for none."""
    if not labels:
        return ""
    body = ",".join(f"{key}={json.dumps(value)}" for key, value in labels.items())
    return "{" + body + "}"


def duration(seconds: float) -> str:
    """A PromQL duration: ``10s``, or ``1500ms`` when not whole seconds."""
    if seconds <= 0:
        raise ValueError(f"a PromQL window must be positive (got {seconds!r} s)")
    return f"{round(seconds)}s" if float(seconds).is_integer() else f"{round(seconds * 1000)}ms"


def _unix(at: At) -> float | None:
    if at is None:
        return None
    return at.timestamp() if isinstance(at, dt.datetime) else float(at)


class Prometheus:
    """One Prometheus HTTP API, queried with prometheus-api-client."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._client = PrometheusConnect(
            url=self.url,
            disable_ssl=True,
            retry=Retry(total=0),
            timeout=timeout_s,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        self._client.close()

    # ---------------------------------------------------------------- raw API

    def _call(self, promql: str, fn: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            return fn(*args, **kwargs)
        except requests.RequestException as exc:
            raise PrometheusUnreachable(
                f"Prometheus at {self.url} did not answer the query {promql!r} ({type(exc).__name__}).",
                f"Check that it runs: curl {self.url}/-/ready",
            ) from None
        except PrometheusApiClientException as exc:
            raise QueryError(f"Prometheus at {self.url} rejected {promql!r}: {exc}") from None

    def query(self, promql: str, at: At = None) -> list[dict[str, Any]]:
        """An instant query: ``[{"metric": {...}, "value": [t, "v"]}, ...]``."""
        ts = _unix(at)
        params = {} if ts is None else {"time": f"{ts:.3f}"}
        return self._call(promql, self._client.custom_query, promql, params=params)

    def query_range(self, promql: str, start: At, end: At, step_s: float) -> list[dict[str, Any]]:
        """A range query: ``[{"metric": {...}, "values": [[t, "v"], ...]}, ...]``."""
        start_dt = dt.datetime.fromtimestamp(_unix(start) or time.time(), tz=dt.UTC)
        end_dt = dt.datetime.fromtimestamp(_unix(end) or time.time(), tz=dt.UTC)
        return self._call(
            promql,
            self._client.custom_query_range,
            promql,
            start_time=start_dt,
            end_time=end_dt,
            step=f"{step_s:g}",
        )

    # ---------------------------------------------------------------- one number

    def scalar(self, promql: str, at: At = None) -> float:
        """The value of a query that gives exactly one series; NoData when none or NaN."""
        result = self.query(promql, at)
        if not result:
            raise NoData(
                f"no data for {promql!r} at {self._when(at)}: no series matched.",
                "Check the metric name and labels in Prometheus (/graph), and that its target is up.",
            )
        if len(result) > 1:
            labels = ", ".join(str(r.get("metric", {})) for r in result[:3])
            raise QueryError(f"{promql!r} gave {len(result)} series where one was expected ({labels}, ...)")
        value = float(result[0]["value"][1])
        if math.isnan(value):
            raise NoData(
                f"no data for {promql!r} at {self._when(at)}: the value is NaN "
                "(no observations in the window, or a 0/0 ratio).",
                "Make sure load ran during the window before judging it.",
            )
        return value

    def wait_scalar(self, promql: str, timeout_s: float, poll_s: float = 0.5) -> float:
        """``scalar`` now, retried on NoData until ``timeout_s``; then the last NoData is raised."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.scalar(promql)
            except NoData:
                if time.monotonic() + poll_s > deadline:
                    raise
            time.sleep(poll_s)

    def _when(self, at: At) -> str:
        ts = _unix(at)
        return "now" if ts is None else dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")

    # ---------------------------------------------------------------- vLLM

    def ttft_quantile_s(
        self, q: float, window_s: float, at: At = None, labels: dict[str, str] | None = None
    ) -> float:
        """The q-quantile (0..1) of vLLM's TTFT over the ``window_s`` before ``at``, in seconds."""
        if not 0 <= q <= 1:
            raise ValueError(f"a quantile is between 0 and 1 (got {q!r})")
        promql = (
            f"histogram_quantile({q:g}, sum by (le) "
            f"(rate(vllm:time_to_first_token_seconds_bucket{selector(labels)}[{duration(window_s)}])))"
        )
        return self.scalar(promql, at)

    def request_success_rate_rps(
        self, window_s: float, at: At = None, labels: dict[str, str] | None = None
    ) -> float:
        """Finished requests per second over the window, every ``finished_reason`` summed."""
        return self.scalar(
            f"sum(rate(vllm:request_success_total{selector(labels)}[{duration(window_s)}]))", at
        )

    def num_requests_running(self, at: At = None, labels: dict[str, str] | None = None) -> float:
        """Requests in the running batches, summed over every matching server."""
        return self.scalar(f"sum(vllm:num_requests_running{selector(labels)})", at)

    def num_requests_waiting(self, at: At = None, labels: dict[str, str] | None = None) -> float:
        """Requests queued (the KEDA signal), summed over every matching server."""
        return self.scalar(f"sum(vllm:num_requests_waiting{selector(labels)})", at)
