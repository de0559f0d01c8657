"""Timing fidelity: a client of slolab serve sees the token times the engine computed.

The server runs in this process (so the engine's own token times are at hand); the client is
another process (tests/serve/sse_load.py), as a load generator is. Both read CLOCK_MONOTONIC,
so each token's arrival at the client is compared with the engine's end of the step that made
it. The lag is the loop's timer latency (epoll wakes up to 1 ms late), the server's work on the
step, and loopback delivery. The bounds are the promise of serve/realtime.py ("a few ms" on an
idle machine), not fitted to a run: median token lag under 2 ms and 95th percentile under 5 ms;
TTFT (client: send to first token; engine: arrival to first token) within 5 ms at the median;
inter-token gaps within 5 ms at the 95th percentile. Up to three runs: a busy machine (other
processes taking the CPU) can stall one; a timing regression misses in all of them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import sys

import pytest

pytestmark = [pytest.mark.wallclock, pytest.mark.asyncio]

HERE = os.path.dirname(os.path.abspath(__file__))
MEDIAN_S = 0.002
P95_S = 0.005
N = 24
ATTEMPTS = 3  # other processes on a shared machine can stall a run; a real regression fails all


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def run_client(*args: str, timeout_s: float = 60) -> list[dict]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        os.path.join(HERE, "sse_load.py"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return json.loads(out)["requests"]


async def test_wall_clock_ttft_and_itl_match_the_engine(live):
    failures = []
    for _ in range(ATTEMPTS):
        live.recorder.finished.clear()
        problem = await measure(live)
        if problem is None:
            return
        failures.append(problem)
    pytest.fail(f"timing fidelity missed in {ATTEMPTS} runs out of {ATTEMPTS}:\n" + "\n".join(failures))


async def measure(live) -> str | None:
    """One run of N staggered streams; None if within the bounds, else what was off."""
    rt = live.rt
    records = await run_client(live.url, "staggered", str(N))
    engine_reqs = {r.prompt_tokens: r for r in live.recorder.finished}
    lags, ttft_errors, gap_errors = [], [], []
    for rec in records:
        assert rec["status"] == 200, rec
        req = engine_reqs[rec["prompt"]]
        assert req.ok and req.output_tokens == rec["max_tokens"]
        engine_times = [rt.to_loop_time(t) for t in req.token_times_s]
        client_times = rec["tokens"]
        assert len(client_times) == len(engine_times) == rec["max_tokens"]
        lags += [c - e for c, e in zip(client_times, engine_times, strict=True)]
        ttft_errors.append((client_times[0] - rec["sent"]) - req.ttft_s)
        client_gaps = [b - a for a, b in itertools.pairwise(client_times)]
        gap_errors += [abs(c - e) for c, e in zip(client_gaps, req.inter_token_gaps_s(), strict=True)]
    summary = (
        f"token lag median {statistics.median(lags) * 1e3:.2f} ms, p95 {p95(lags) * 1e3:.2f} ms, "
        f"max {max(lags) * 1e3:.2f} ms over {len(lags)} tokens; TTFT error median "
        f"{statistics.median(ttft_errors) * 1e3:.2f} ms, max {max(ttft_errors) * 1e3:.2f} ms; "
        f"ITL error p95 {p95(gap_errors) * 1e3:.2f} ms"
    )
    print(summary)
    # never early: a token cannot reach the client before the engine's step has ended
    assert min(lags) >= 0, "a token reached the client before the engine's step ended: " + summary
    within = (
        statistics.median(lags) < MEDIAN_S
        and p95(lags) < P95_S
        and statistics.median(ttft_errors) < P95_S
        and p95(gap_errors) < P95_S
    )
    return None if within else summary
