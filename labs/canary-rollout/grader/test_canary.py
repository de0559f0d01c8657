"""Checks of the canary-rollout lab; each judges one SLO of lab.yaml by what the two rollouts did."""

from __future__ import annotations


def test_bad_abort_s(canary, verdict, params, lab):
    """The regressed version is aborted automatically, within the bound from its rollout's start."""
    bad = canary.bad
    window = bad.window
    verdict.require_load(canary.log, window=window, min_requests=params.min_requests)
    evidence = [
        f"share of ready pods on {bad.image}: {bad.weights()}",
        f"the Rollout at the end: {bad.looks[-1].phase} {bad.looks[-1].message}".rstrip()
        if bad.looks
        else "",
        *bad.analysis(lab.cluster),
        *bad.view,
    ]
    if bad.aborted_s is None:
        how = "promoted to every pod" if bad.promoted_s is not None else "still not aborted"
        evidence.insert(0, f"never aborted: {how} {window.duration_s:.0f} s after the rollout started")
        observed = max(window.duration_s, params.bad_follow_s)  # at least as long as it was followed
    else:
        observed = bad.aborted_s - window.start_s
        evidence.insert(0, f"aborted {observed:.0f} s after the rollout started")
    verdict("bad_abort_s", round(observed, 1), window=window, evidence=evidence)


def test_bad_traffic_share_pct(canary, verdict, params):
    """The regressed version never had more than the bound's share of the ready pods (its traffic)."""
    bad = canary.bad
    window = bad.window
    verdict.require_load(canary.log, window=window, min_requests=params.min_requests)
    share, at_s = bad.max_share()
    evidence = [
        f"at most {share:.0f}% of the ready pods ran {bad.image} ({at_s - window.start_s:.0f} s in)",
        f"share over time: {bad.weights()}",
    ]
    verdict("bad_traffic_share_pct", round(share, 1), window=window, evidence=evidence)


def test_error_budget_spent_pct(canary, verdict, params, lab):
    """The requests that failed while the regressed version rolled out, as a share of the error
    budget (1 - objective) x what the profile sends in budget_window_s."""
    bad = canary.bad
    window = bad.window
    part = verdict.require_load(canary.log, window=window, min_requests=params.min_requests)
    profile = lab.scenario.profile(params.profile)
    budget = (1 - params.availability_objective) * profile.rate_rps * params.budget_window_s
    failed = part.failed()
    spent = 100.0 * len(failed) / budget
    kinds = "; ".join(
        f"{n} × {k}" for k, n in sorted(part.errors_by_kind().items(), key=lambda kv: -kv[1])[:3]
    )
    evidence = [
        f"{len(failed)} of {len(part)} requests failed during the rollout of {bad.image}"
        + (f": {kinds}" if kinds else ""),
        f"error budget: {1 - params.availability_objective:.2%} of {profile.rate_rps:g} req/s over "
        f"{params.budget_window_s / 60:.0f} min = {budget:.0f} requests",
    ]
    verdict("error_budget_spent_pct", round(spent, 1), window=window, evidence=evidence)


def test_good_promoted_s(canary, verdict, params, lab):
    """The healthy version is promoted all the way (stable, on every pod) within the bound."""
    good = canary.good
    window = good.window
    verdict.require_load(canary.log, window=window, min_requests=params.min_requests)
    evidence = [
        f"share of ready pods on {good.image}: {good.weights()}",
        *good.analysis(lab.cluster),
        *good.view,
    ]
    if good.promoted_s is None:
        end = good.looks[-1] if good.looks else None
        state = f"{end.phase} {end.message}".strip() if end else "never seen"
        evidence.insert(0, f"not promoted {window.duration_s:.0f} s after the rollout started: {state}")
        observed = max(window.duration_s, params.good_follow_s)
    else:
        observed = good.promoted_s - window.start_s
        evidence.insert(0, f"promoted {observed:.0f} s after the rollout started")
    verdict("good_promoted_s", round(observed, 1), window=window, evidence=evidence)
