"""A throwaway slolab checkout with one lab, ``demo``, for the grading plugin's tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.backends.backend_agg
import matplotlib.figure
import pytest

from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod

# pytester forgets every module first imported during a test, and numpy cannot be imported twice
# in one process: what the timeline imports is imported here, before any pytester test starts.
del matplotlib

LAB_YAML = """\
name: demo
title: Demo rollout
summary: A lab for testing the grading plugin.
scenario: demo
difficulty: beginner
estimated_minutes: 10
time_limit_minutes: 30
backends: [sim]
fault:
  summary: the readiness probe checks nothing
  fails: [failed_requests]
slos:
  failed_requests:
    title: No request failed during the rollout
    objective: max
    target: 0
    unit: requests
    window: the rolling update
    hint: Which pods receive traffic before the model has loaded?
  ttft_p99:
    title: p99 TTFT under 2 s
    objective: max
    target: 2
    unit: s
    window: steady load
    hint: Compare the queue depth of the pods that serve traffic.
grading:
  target: {deployment: llm, service: llm}
seeds: [7, 8]
"""

SCENARIO_YAML = """\
name: demo
title: Demo scenario
description: One model server.
model:
  preset: llama-3.1-8b-h100
  served_model_name: llama
  load_time_s: {distribution: constant, value: 30}
topology:
  pools:
    - name: gpu
      match_labels: {slolab.dev/pool: gpu}
      capacity: {nvidia.com/gpu: "8"}
traffic:
  steady:
    rate_rps: 2
    prompt_tokens: {distribution: constant, value: 256}
    output_tokens: {distribution: constant, value: 64}
"""


def _clear_caches() -> None:
    lab_mod.load.cache_clear()
    scenario_mod.load.cache_clear()


@pytest.fixture
def slolab_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with labs/demo (lab.yaml, grader/), scenarios/demo and charts/, as $SLOLAB_ROOT."""
    root = tmp_path / "root"
    (root / "labs" / "demo" / "grader").mkdir(parents=True)
    (root / "scenarios" / "demo").mkdir(parents=True)
    (root / "charts").mkdir()
    (root / "labs" / "demo" / "lab.yaml").write_text(LAB_YAML, encoding="utf-8")
    (root / "scenarios" / "demo" / "scenario.yaml").write_text(SCENARIO_YAML, encoding="utf-8")
    monkeypatch.setenv("SLOLAB_ROOT", str(root))
    monkeypatch.delenv("SLOLAB_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    _clear_caches()
    yield root
    _clear_caches()


# The backend factory graders get in these tests: a FakeBackend whose load fails every request
# that arrives while ``FAIL_FROM_S <= t < FAIL_TO_S`` (module globals of the conftest).
FAKE_CONFTEST = textwrap.dedent(
    """
    import pytest
    from slolab.backends import base, fake

    RATE_RPS = 2.0
    FAIL_FROM_S, FAIL_TO_S = 1e9, 1e9
    TTFT_S = 0.3

    @pytest.fixture(scope="session")
    def slolab_backend_factory():
        def open_fake(lab, options):
            requests = fake.steady(rate_rps=RATE_RPS, start_s=0, end_s=600, ttft_s=TTFT_S,
                                   fail=lambda t: FAIL_FROM_S <= t < FAIL_TO_S)
            series = {"ready_pods": [(0, 2), (150, 1), (170, 2)], "pods": [(0, 2), (150, 3), (180, 2)]}
            warn = base.Event(160, "Pod", "llm-x", "Unhealthy", "Readiness probe failed", "Warning")
            return fake.FakeBackend(lab, None, options.seed, requests=requests, rate_rps=RATE_RPS,
                                    series=series,
                                    events=[warn],
                                    objects=[{"kind": "Deployment", "metadata": {"name": "llm"}, "spec": {}}])
        return open_fake
    """
)


@pytest.fixture
def grader(pytester: pytest.Pytester, slolab_root: Path):
    """Write a grader (test module source) and a fake-backend conftest, into ``into`` or the test dir."""

    def make(source: str, *, conftest_extra: str = "", into: Path | None = None) -> None:
        folder = into or pytester.path
        conftest = FAKE_CONFTEST + textwrap.dedent(conftest_extra)
        (folder / "conftest.py").write_text(conftest, encoding="utf-8")
        (folder / "test_grader.py").write_text(textwrap.dedent(source), encoding="utf-8")

    return make
