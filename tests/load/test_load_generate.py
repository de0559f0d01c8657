"""The generator process against the fixed-latency reference server, on 127.0.0.1.

Each run is bounded by --duration-s and --max-requests, and the child is stopped (and killed by
PID if need be) in ``finally``.
"""

from __future__ import annotations

import random
import statistics

import pytest

from slolab.load import process
from slolab.run import schedule

# Wall-clock measurements on a shared 2-core machine: a CPU stall elsewhere can spoil one run.
# A failure must repeat in three runs to count (pytest-rerunfailures).
pytestmark = [pytest.mark.wallclock, pytest.mark.flaky(reruns=2)]


def run(url: str, profile, seed: str, *, wait_s: float = 30.0, **kwargs) -> process.Outcome:
    """Start a generator, let it end by itself (duration/count), read its records back."""
    kwargs.setdefault("max_requests", 1000)
    gen = process.Generator(url, "ref", profile, seed, **kwargs)
    try:
        gen.start()
        assert gen.wait(wait_s), f"the generator did not end within {wait_s} s"
        return gen.stop(drain_s=0.0)
    finally:
        gen.kill()


def planned(profile, seed: str, duration_s: float) -> list[schedule.Arrival]:
    return list(schedule.arrivals(profile, random.Random(seed), duration_s=duration_s, max_requests=1000))


def test_open_loop_run_measures_the_servers_latency(ref_server, traffic):
    """50 req/s for 3 s, TTFT 50 ms, ITL 10 ms, 8 tokens: every sample within a few ms of the server's."""
    server = ref_server(ttft_s=0.05, itl_s=0.01)
    profile = traffic(50.0, output_tokens=8)
    out = run(server.url, profile, "steady-seed", duration_s=3.0, run_id="t")
    plan = planned(profile, "steady-seed", 3.0)

    # the deterministic schedule was sent, all of it, at Poisson-plausible size (150 ± 4σ)
    assert 150 - 4 * 150**0.5 < len(plan) < 150 + 4 * 150**0.5
    recs = sorted(out.records, key=lambda r: r.id)
    assert [(r.id, r.scheduled_s, r.prompt_tokens, r.max_tokens) for r in recs] == [
        (a.index, round(a.offset_s, 6), a.prompt_tokens, a.max_tokens) for a in plan
    ]
    assert out.summary["arrivals"] == len(plan) and out.summary["pool_full"] == 0
    assert out.arrivals_stopped_s is not None and 3.0 <= out.arrivals_stopped_s < 3.2

    # every request succeeded with all its tokens
    assert {r.status for r in recs} == {200}
    assert all(r.output_tokens == 8 and len(r.token_times_s) == 8 for r in recs)

    # open loop: sent on schedule, not after earlier responses
    lags = [r.arrival_s - r.scheduled_s for r in recs]
    assert min(lags) >= 0 and statistics.median(lags) < 0.002

    # per request, the client's TTFT against the server's own (same X-Request-Id)
    served = server.by_id()
    diffs = [(r.first_token_s - r.arrival_s) - served[f"t-{r.id}"].ttft_s for r in recs]
    assert min(diffs) > 0  # the client starts before the server and reads after it writes
    diffs.sort()
    assert diffs[len(diffs) // 2] < 0.003, (
        f"median client-server TTFT difference {diffs[len(diffs) // 2]:.4f} s"
    )
    assert diffs[int(0.95 * len(diffs))] < 0.010

    # token times: 10 ms apart, end to end 50 + 7 × 10 ms
    gaps = [b - a for r in recs for a, b in zip(r.token_times_s, r.token_times_s[1:], strict=False)]
    assert abs(statistics.median(gaps) - 0.010) < 0.002
    e2e = [r.finish_s - r.arrival_s for r in recs]
    assert 0.120 <= statistics.median(e2e) < 0.126


def test_http_errors_and_cut_streams_are_recorded(ref_server, traffic):
    """A 503 keeps its status and the server's message; a cut stream is status 0 with its tokens so far."""
    server = ref_server(ttft_s=0.02, itl_s=0.005, fail_every=4, cut_every=5, cut_after_tokens=3)
    out = run(server.url, traffic(40.0, output_tokens=6), "errors", duration_s=1.0, run_id="e")
    served = server.by_id()
    by_kind: dict[str, list] = {"503": [], "cut": [], "ok": []}
    for rec in out.records:
        s = served[f"e-{rec.id}"]
        kind = "503" if s.status == 503 else "cut" if s.cut else "ok"
        by_kind[kind].append(rec)
    assert by_kind["503"] and by_kind["cut"] and by_kind["ok"]
    for rec in by_kind["503"]:
        assert rec.status == 503
        assert rec.error == "HTTP 503: the reference server fails this request on purpose"
        assert rec.first_token_s is None
    for rec in by_kind["cut"]:
        assert (rec.status, rec.error) == (0, "connection reset")
        assert len(rec.token_times_s) == 3 and rec.output_tokens == 3
        assert rec.first_token_s == rec.token_times_s[0]
    assert all(r.status == 200 and r.output_tokens == 6 for r in by_kind["ok"])


def test_refused_connections_are_status_0_and_the_schedule_repeats(closed_port_url, traffic):
    profile = traffic(40.0)
    first = run(closed_port_url, profile, "refused", duration_s=0.5)
    second = run(closed_port_url, profile, "refused", duration_s=0.5)
    assert first.records
    assert {(r.status, r.error) for r in first.records} == {(0, "connection refused")}
    assert all(r.finish_s is not None and r.finish_s - r.arrival_s < 0.1 for r in first.records)

    def schedule_of(out: process.Outcome) -> list[tuple]:
        return sorted((r.id, r.scheduled_s, r.prompt_tokens, r.max_tokens) for r in out.records)

    assert schedule_of(first) == schedule_of(second)


def test_a_full_pool_is_a_client_failure_never_a_drop(ref_server, traffic):
    """max_in_flight 3 and requests of ~1 s: the first 3 arrivals run, every later one fails at once."""
    server = ref_server(ttft_s=1.0, itl_s=0.01)
    profile = traffic(40.0, output_tokens=2)
    out = run(server.url, profile, "pool", duration_s=0.5, max_in_flight=3, drain_s=5.0)
    plan = planned(profile, "pool", 0.5)
    recs = sorted(out.records, key=lambda r: r.id)
    assert len(recs) == len(plan) > 6
    assert [r.status for r in recs[:3]] == [200, 200, 200]
    for rec in recs[3:]:
        assert (rec.status, rec.error) == (0, "client pool full: 3 requests in flight")
        assert rec.finish_s == rec.arrival_s
    assert out.summary["pool_full"] == len(plan) - 3
    assert len(server.served) == 3


def test_client_timeout_ends_the_request_at_the_deadline(ref_server, traffic):
    server = ref_server(ttft_s=2.0, itl_s=0.01)
    out = run(server.url, traffic(20.0, timeout_s=0.3), "timeout", duration_s=0.4)
    assert out.records
    for rec in out.records:
        assert (rec.status, rec.error) == (0, "client timeout")
        assert abs((rec.finish_s - rec.arrival_s) - 0.3) < 1e-6
        assert rec.first_token_s is None
