"""The chaos schedule (slolab.run.chaos): occurrences, what is due without bursts after downtime,
nothing after the limit, and reproducible picks of target pods."""

from __future__ import annotations

import pytest

from slolab.catalog import scenario as scenario_mod
from slolab.run import chaos

SELECTOR = {"app.kubernetes.io/name": "llm-serving"}


def step(**fields) -> scenario_mod.ChaosStep:
    return scenario_mod.ChaosStep.model_validate({"selector": SELECTOR, **fields})


def test_a_one_off_step() -> None:
    steps = [step(at_s=30)]
    assert chaos.due(steps, elapsed_s=29.9, limit_s=600) == []
    (injection,) = chaos.due(steps, elapsed_s=30, limit_s=600)
    assert (injection.step, injection.occurrence, injection.due_s, injection.done_after) == (0, 0, 30, 1)
    assert chaos.due(steps, elapsed_s=500, limit_s=600, done={"0": 1}) == []


def test_a_repeating_step_runs_once_per_period() -> None:
    steps = [step(at_s=10, every_s=60)]
    assert [chaos.occurrences(steps[0], t, 600) for t in (0, 10, 69, 70, 130, 10_000)] == [
        0,
        1,
        1,
        2,
        3,
        10,
    ]
    (injection,) = chaos.due(steps, elapsed_s=75, limit_s=600, done={"0": 1})
    assert (injection.occurrence, injection.due_s) == (1, 70)


def test_no_burst_after_downtime_and_nothing_after_the_deadline() -> None:
    steps = [step(every_s=10), step(at_s=5)]
    injections = chaos.due(steps, elapsed_s=95, limit_s=1000, done={"0": 2})
    assert [(i.step, i.occurrence, i.done_after) for i in injections] == [(1, 0, 1), (0, 9, 10)]
    assert chaos.due(steps, elapsed_s=5000, limit_s=100, done={"0": 11, "1": 1}) == []


def test_a_step_needs_a_time() -> None:
    with pytest.raises(ValueError, match="needs at_s, every_s or both"):
        step()


def test_pick_is_reproducible_and_skips_pods_going_away() -> None:
    pods = [{"metadata": {"name": f"llm-{i}"}, "status": {"phase": "Running"}} for i in range(6)]
    pods.append({"metadata": {"name": "llm-gone", "deletionTimestamp": "x"}, "status": {"phase": "Running"}})
    pods.append({"metadata": {"name": "llm-done"}, "status": {"phase": "Succeeded"}})
    first = chaos.pick(pods, 2, seed=1, step=0, occurrence=3)
    assert first == chaos.pick(list(reversed(pods)), 2, seed=1, step=0, occurrence=3)
    assert len(first) == 2 and not {"llm-gone", "llm-done"} & set(first)
    picks = {tuple(chaos.pick(pods, 1, seed=1, step=0, occurrence=n)) for n in range(20)}
    assert len(picks) > 1  # different occurrences hit different pods
    assert chaos.pick(pods[:1], 3, seed=1, step=0, occurrence=0) == ["llm-0"]
