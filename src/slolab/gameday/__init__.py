"""Game days: a lab's scenario under steady load and a chaos schedule, scored by error budget.

- ``plan``: what a game day runs (lab, manifests, seed, duration, team, profile, SLOs, schedule);
- ``chaosmesh``: the schedule's Chaos Mesh objects (Schedule of PodChaos, NetworkChaos);
- ``run``: the procedure on a backend (warm up, load, chaos in time, score), with ``simchaos``
  doing the chaos on the simulator;
- ``score``: error budget burned with Harness's bands, time to recover, the hypothesis;
- ``record``: the JSON a run leaves in reports/gameday/<lab>/<seed>/<team>.json;
- ``htmlreport``: the self-contained HTML report; ``scoreboard``: teams ranked.

Layer: above grading and report (the commands' level, below cli), using backends, load and the
workspace downward.
"""
