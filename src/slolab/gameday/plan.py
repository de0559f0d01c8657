"""A game-day plan: what runs, against which manifests, for how long, and the chaos schedule.

A game day (DESIGN.md §2) is a timed run of a lab's scenario under steady load with a chaos
schedule, against the learner's current manifests (``workspace/<lab>/``, or the lab's fault when
there is no workspace yet). The plan fixes everything a run depends on, so that a seed gives the
same run and the same score (``slolab.gameday.score``).

The chaos schedule is four kinds of injection, named with Chaos Mesh's words where Chaos Mesh has
an object for them (``slolab.gameday.chaosmesh`` writes the manifests) and with kubectl's where it
has none:

- ``pod-kill``: a Chaos Mesh ``Schedule`` of a ``PodChaos`` (action pod-kill, mode one) on the
  target Deployment's pods, ``@every`` a sixth of the run; Chaos Mesh's @every fires one period
  after the Schedule is created (``slolab.gameday.chaosmesh``), so the kills come at 1/6, 2/6, …
  of the run;
- ``network-delay``: a ``NetworkChaos`` (action delay) on the same pods, created at 20 % of the
  run, for 7 % of it (at least 60 s);
- ``drain``: ``kubectl drain`` of the node that holds most of the target's pods at 40 % of the run,
  ``kubectl uncordon`` at 55 % (Chaos Mesh has no drain);
- ``node-loss``: that node's kubelet stops at 65 % of the run and comes back at 80 % (a node
  that is down and back; Chaos Mesh's PhysicalMachineChaos works off-cluster, so the runner does
  it through the backend).

The SLOs the game day scores against are the lab's availability SLO (an SLO in ``%`` whose id
names availability, or its error budget: a ``max`` SLO in ``%`` whose id names failed requests,
availability = 100 − target) and p99 TTFT bound (an SLO in ``s`` whose id names ttft_p99) when it
has them, else :data:`DEFAULT_AVAILABILITY_PCT` and :data:`DEFAULT_TTFT_P99_S`.

The error budget is the plan's: (1 − availability SLO) × the requests the profile is expected to
send over the whole run (:attr:`Plan.budget_failures`). Its stop condition (``STOP_BURN``,
:func:`parse_stop_burn`; ``slolab.gameday.stop``, AWS FIS stop conditions) halts the chaos once
``stop_burn_pct`` % of that budget is burned.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

from slolab import errors, paths
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod

#: The availability SLO when the lab names none: 99.5 % of requests succeed (issue 12's example).
DEFAULT_AVAILABILITY_PCT = 99.5
#: The p99 TTFT bound when the lab names none: keda-scaling's 2 s for the same model and GPU.
DEFAULT_TTFT_P99_S = 2.0
#: Default game-day length.
DEFAULT_DURATION_S = 1800.0
#: Shortest game day: the schedule's fractions need room for a model reload between steps.
MIN_DURATION_S = 600.0
#: NetworkChaos delay of the schedule.
LATENCY_MS = 100.0
JITTER_MS = 10.0
#: How long the workload may take to become Ready before the game day starts.
WARMUP_TIMEOUT_S = 900.0
#: The stop condition's default threshold: the chaos halts once the whole error budget is burned
#: (``slolab.gameday.stop``).
DEFAULT_STOP_BURN_PCT = 100.0

POD_KILL = "pod-kill"
NETWORK_DELAY = "network-delay"
DRAIN = "drain"
UNCORDON = "uncordon"
NODE_DOWN = "node-down"
NODE_UP = "node-up"
#: Injections (scored with a time to recover) and the actions that end one (logged only).
INJECTIONS = (POD_KILL, NETWORK_DELAY, DRAIN, NODE_DOWN)
ACTIONS = (*INJECTIONS, UNCORDON, NODE_UP)

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_TEAM = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,38}[a-z0-9])?$")


def parse_duration(text: str, field: str = "DURATION") -> float:
    """Seconds of a Go-style duration (``30m``, ``1h``, ``1h30m``, ``90s``)."""
    match = _DURATION.match(text.strip())
    if not text.strip() or not match or not any(match.groupdict().values()):
        raise errors.InputError(
            errors.Problem(field, f"{text!r} is not a duration; write it as 30m, 1h, 1h30m or 900s")
        )
    parts = {k: int(v or 0) for k, v in match.groupdict().items()}
    seconds = parts["h"] * 3600.0 + parts["m"] * 60.0 + parts["s"]
    if seconds < MIN_DURATION_S:
        raise errors.InputError(
            errors.Problem(
                field,
                f"{text} is shorter than a game day's {MIN_DURATION_S / 60:g} minutes: the chaos "
                "schedule needs time for pods to reload between injections",
            )
        )
    return seconds


def parse_stop_burn(text: str, field: str = "STOP_BURN") -> float | None:
    """The stop condition's threshold: a share of the error budget in % (``100``, ``50``,
    ``150 %``; above 0), or None for ``off`` (no stop condition)."""
    value = text.strip().lower().removesuffix("%").strip()
    if value in ("off", "none", "no"):
        return None
    try:
        pct = float(value)
    except ValueError:
        pct = math.nan
    if not math.isfinite(pct) or pct <= 0:
        raise errors.InputError(
            errors.Problem(
                f"{field} (--stop-burn)",
                f"{text!r} is not a stop condition; write the share of the error budget whose burning "
                "halts the chaos as a percentage above 0 (100, 50, 150 %), or off to run every injection",
            ),
            "Run `make gameday NAME=<lab> STOP_BURN=100` (the default), or STOP_BURN=off.",
        )
    return pct


def check_team(team: str) -> str:
    """A team name usable as a file name: lower-case letters, digits, - and _ (≤ 40)."""
    if not _TEAM.match(team):
        raise errors.InputError(
            errors.Problem(
                "TEAM",
                f"{team!r} must be 1-40 lower-case letters, digits, '-' or '_', starting and ending alnum",
            )
        )
    return team


@dataclasses.dataclass(frozen=True)
class Step:
    """One action of the schedule, ``at_s`` seconds after the game day's load started."""

    at_s: float
    action: str  # one of ACTIONS
    #: how long the injection lasts (network-delay), or None
    duration_s: float | None = None


@dataclasses.dataclass(frozen=True)
class Slo:
    """What the game day is scored against."""

    availability_pct: float
    ttft_p99_s: float

    @property
    def error_budget(self) -> float:
        """The share of requests that may fail (1 − availability)."""
        return 1.0 - self.availability_pct / 100.0


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything a game day depends on; two runs of one plan give the same score."""

    lab: lab_mod.Lab
    scenario: scenario_mod.Scenario
    workspace: Path
    #: "workspace" (the learner's files) or "fault" (the lab's starting state, no workspace yet)
    manifests_from: str
    seed: int
    duration_s: float
    team: str
    profile: str
    slo: Slo
    steps: tuple[Step, ...]
    backend: str = "sim"
    #: PodChaos period (Schedule @every), seconds
    kill_every_s: float = 300.0
    #: NetworkChaos delay
    latency_ms: float = LATENCY_MS
    jitter_ms: float = JITTER_MS
    #: the stop condition: the % of the error budget whose burning halts the chaos; None: off
    stop_burn_pct: float | None = DEFAULT_STOP_BURN_PCT

    @property
    def name(self) -> str:
        return self.lab.name

    @property
    def expected_requests(self) -> float:
        """The requests the profile is expected to send over the whole run (the integral of its
        rate, ``TrafficProfile.cumulative_requests``)."""
        return self.scenario.traffic[self.profile].cumulative_requests(self.duration_s)

    @property
    def budget_failures(self) -> float:
        """The game day's error budget in failed requests: (1 − availability SLO) × the requests
        expected over the whole run. The score and the stop condition both burn this budget."""
        return self.slo.error_budget * self.expected_requests

    @property
    def hypothesis(self) -> str:
        """The steady-state hypothesis, in AWS FIS's template ("if …, the impact should not exceed …")."""
        return (
            f"While pods are killed every {self.kill_every_s / 60:g} min, the network to them is "
            f"delayed by {self.latency_ms:g} ms, a node is drained and a node is lost, at least "
            f"{self.slo.availability_pct:g} % of requests succeed, p99 TTFT stays at or under "
            f"{self.slo.ttft_p99_s:g} s, and the service is back within both after every injection."
        )


def slo_of(lab: lab_mod.Lab) -> Slo:
    """The lab's availability and p99 TTFT SLOs, or the defaults where it has none."""
    availability, ttft = DEFAULT_AVAILABILITY_PCT, DEFAULT_TTFT_P99_S
    for slo_id, slo in lab.slos.items():
        if "availability" in slo_id and slo.unit == "%":
            availability = slo.target
        elif "failed" in slo_id and slo.unit == "%" and slo.objective == "max":
            availability = 100.0 - slo.target
        elif "ttft_p99" in slo_id and slo.unit == "s":
            ttft = slo.target
    return Slo(availability_pct=availability, ttft_p99_s=ttft)


def profile_of(lab: lab_mod.Lab, scenario: scenario_mod.Scenario) -> str:
    """The grader's load profile when it is steady, else the scenario's first steady profile."""
    named = getattr(lab.grading.params, "profile", None)
    if isinstance(named, str) and named in scenario.traffic and scenario.traffic[named].rate_curve is None:
        return named
    steady = [n for n, p in scenario.traffic.items() if p.rate_curve is None]
    if not steady:
        raise errors.CatalogError(
            errors.Problem(
                paths.relative(scenario.directory / "scenario.yaml"),
                "a game day needs a steady traffic profile (one without rate_curve); there is none",
                field="traffic",
            )
        )
    return steady[0]


def schedule(duration_s: float) -> tuple[tuple[Step, ...], float]:
    """The default chaos schedule for a run of ``duration_s`` (see the module docstring), and the
    pod-kill period."""
    kill_every_s = round(duration_s / 6.0)
    delay_s = max(60.0, round(duration_s * 0.07))
    steps = (
        Step(round(duration_s * 0.20), NETWORK_DELAY, delay_s),
        Step(round(duration_s * 0.40), DRAIN),
        Step(round(duration_s * 0.55), UNCORDON),
        Step(round(duration_s * 0.65), NODE_DOWN),
        Step(round(duration_s * 0.80), NODE_UP),
    )
    kills = tuple(Step(kill_every_s * k, POD_KILL) for k in range(1, int(duration_s // kill_every_s) + 1))
    kills = tuple(k for k in kills if k.at_s < duration_s)
    return tuple(sorted((*steps, *kills), key=lambda s: (s.at_s, ACTIONS.index(s.action)))), kill_every_s


def make(
    name: str,
    *,
    team: str = "default",
    duration_s: float = DEFAULT_DURATION_S,
    seed: int | None = None,
    backend: str = "sim",
    workspace: Path | None = None,
    stop_burn_pct: float | None = DEFAULT_STOP_BURN_PCT,
) -> Plan:
    """The plan for lab ``name``: the workspace when it has manifests, else the lab's fault."""
    if name not in lab_mod.names() and name in scenario_mod.names():
        labs = [n for n in lab_mod.names() if lab_mod.load(n).scenario == name]
        raise errors.InputError(
            errors.Problem("NAME", f"{name} is a scenario; a game day runs a lab's manifests and SLOs"),
            f"Run `make gameday NAME=<lab>` with a lab of {name}: {', '.join(labs) or '(none yet)'}.",
        )
    lab = lab_mod.load(name)
    scenario = scenario_mod.load(lab.scenario)
    ws = workspace if workspace is not None else paths.workspace(lab.name)
    from_ = "workspace" if workspace is not None or any(ws.glob("*.yaml")) else "fault"
    steps, kill_every_s = schedule(duration_s)
    return Plan(
        lab=lab,
        scenario=scenario,
        workspace=ws,
        manifests_from=from_,
        seed=lab.seeds[0] if seed is None else seed,
        duration_s=duration_s,
        team=check_team(team),
        profile=profile_of(lab, scenario),
        slo=slo_of(lab),
        steps=steps,
        backend=backend,
        kill_every_s=kill_every_s,
        stop_burn_pct=stop_burn_pct,
    )
