"""The benchmark of the load generator itself: the highest open-loop rate it measures cleanly.

A load generator that runs out of CPU starts late, reads tokens late and reports latencies the
server never had. ``highest_clean_rate`` steps the open-loop rate up and returns the highest
rate at which the client's p99 TTFT agrees with the server's own within ``tolerance_s`` (5 ms).

Server truth. A vLLM server's TTFT histogram cannot give it: its buckets around 50 ms are 20 ms
wide (0.04, 0.06, 0.08; research/components.md §1), four times the tolerance, and
``histogram_quantile`` interpolates inside a bucket. So the truth is the server's own
per-request log: ``GET <url>/slolab/requests?prefix=<run id>`` returning
``[{"request_id": ..., "ttft_s": ...}, ...]``, TTFT measured by the server from the request's
arrival in its handler to its first token written, keyed by the generator's ``X-Request-Id``.
``slolab.load.refserver`` (fixed latency, no model) offers it; any server that offers the same
endpoint can be benchmarked. Client and server p99s are taken over the same requests (those
the server logged with a first token and the client saw succeed), so a slow server does not
count against the client, only time the client adds does: late dispatch, connection set-up,
reading the stream late. On one machine the server's event loop shares the CPU with the
generator, so the result is a property of the pair; run the server on other cores (or another
host) to measure the generator alone.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence

from slolab import errors
from slolab.catalog import scenario as scenario_mod
from slolab.catalog import schema
from slolab.load import process, requestlog

DEFAULT_RATES_RPS = (25.0, 50.0, 100.0, 200.0, 300.0, 400.0, 600.0, 800.0)


@dataclasses.dataclass(frozen=True)
class Step:
    """One rate tried: what the client and the server measured over the same requests."""

    rate_rps: float
    requests: int
    compared: int
    failed: int
    client_p99_ttft_s: float | None
    server_p99_ttft_s: float | None
    max_lag_s: float
    cpu_warning: bool

    @property
    def difference_s(self) -> float | None:
        if self.client_p99_ttft_s is None or self.server_p99_ttft_s is None:
            return None
        return self.client_p99_ttft_s - self.server_p99_ttft_s

    def clean(self, tolerance_s: float) -> bool:
        diff = self.difference_s
        return self.failed == 0 and self.compared > 0 and diff is not None and abs(diff) <= tolerance_s


@dataclasses.dataclass(frozen=True)
class CleanRate:
    """The highest clean rate (0 when even the first step was not clean) and every step tried."""

    rate_rps: float
    tolerance_s: float
    steps: list[Step]
    stopped_because: str


def _server_log(url: str, prefix: str) -> dict[str, float]:
    query = urllib.parse.urlencode({"prefix": prefix})
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/slolab/requests?{query}", timeout=10) as resp:
            rows = json.load(resp)
    except (OSError, ValueError) as exc:
        raise errors.BackendError(
            f"{url} offers no per-request log at /slolab/requests ({exc}); the benchmark needs the "
            "server's own TTFT per request.",
            "Benchmark against the reference server: python -m slolab.load.refserver --port 8000",
        ) from None
    return {row["request_id"]: row["ttft_s"] for row in rows if row.get("ttft_s") is not None}


def measure_step(
    url: str,
    model: str,
    rate_rps: float,
    *,
    step_s: float,
    prompt_tokens: int,
    output_tokens: int,
    seed: str,
    max_in_flight: int,
) -> Step:
    """One open-loop run at ``rate_rps`` for ``step_s``, compared with the server's log."""
    profile = scenario_mod.TrafficProfile(
        rate_rps=rate_rps,
        prompt_tokens=schema.Distribution(distribution="constant", value=float(prompt_tokens)),
        output_tokens=schema.Distribution(distribution="constant", value=float(output_tokens)),
        timeout_s=30.0,
    )
    run_id = f"clean-{rate_rps:g}-{time.time_ns()}"
    gen = process.Generator(
        url,
        model,
        profile,
        f"{seed}:{rate_rps:g}",
        duration_s=step_s,
        max_requests=int(rate_rps * step_s * 3) + 10,
        max_in_flight=max_in_flight,
        drain_s=10.0,
        run_id=run_id,
    )
    gen.start()
    if not gen.wait(step_s + 15.0):
        gen.stop(drain_s=0.0)
        raise errors.BackendError(f"the {rate_rps:g} req/s step did not end within {step_s + 15:g} s")
    outcome = gen.stop(drain_s=0.0)
    server = _server_log(url, run_id + "-")
    client: list[float] = []
    truth: list[float] = []
    for rec in outcome.records:
        server_ttft = server.get(f"{run_id}-{rec.id}")
        if rec.status == 200 and rec.first_token_s is not None and server_ttft is not None:
            client.append(rec.first_token_s - rec.arrival_s)
            truth.append(server_ttft)
    return Step(
        rate_rps=rate_rps,
        requests=len(outcome.records),
        compared=len(client),
        failed=sum(1 for r in outcome.records if r.status != 200),
        client_p99_ttft_s=requestlog.quantile(client, 0.99),
        server_p99_ttft_s=requestlog.quantile(truth, 0.99),
        max_lag_s=max(
            (r.arrival_s - r.scheduled_s for r in outcome.records if r.scheduled_s is not None), default=0.0
        ),
        cpu_warning=bool(outcome.summary.get("cpu_warning")),
    )


def highest_clean_rate(
    url: str,
    model: str,
    *,
    rates_rps: Sequence[float] = DEFAULT_RATES_RPS,
    step_s: float = 5.0,
    budget_s: float = 120.0,
    tolerance_s: float = 0.005,
    prompt_tokens: int = 16,
    output_tokens: int = 16,
    seed: str = "bench",
    max_in_flight: int = 4000,
) -> CleanRate:
    """Step through ``rates_rps`` (ascending) until a step is not clean or ``budget_s`` would pass.

    A step is clean when no request failed and |client p99 TTFT − server p99 TTFT| ≤
    ``tolerance_s`` over the same requests. Returns the last clean rate before the first
    unclean step (0 when the first is unclean), and every step measured.
    """
    started = time.monotonic()
    steps: list[Step] = []
    best = 0.0
    reason = "every rate was clean"
    for rate in sorted(rates_rps):
        if time.monotonic() - started + step_s + 5.0 > budget_s:
            reason = f"the {budget_s:g} s budget would be exceeded at {rate:g} req/s"
            break
        step = measure_step(
            url,
            model,
            rate,
            step_s=step_s,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            seed=seed,
            max_in_flight=max_in_flight,
        )
        steps.append(step)
        if not step.clean(tolerance_s):
            reason = f"not clean at {rate:g} req/s"
            break
        best = rate
    return CleanRate(rate_rps=best, tolerance_s=tolerance_s, steps=steps, stopped_because=reason)
