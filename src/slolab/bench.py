"""``make bench``: the numbers behind the performance targets, written to bench.json.

- grade_wall_s: wall seconds of ``slolab grade readiness-probes`` on sim, process start
  included, median of N runs on the reference solution (target ≤ 1.5 s);
- sim_requests_per_s: simulated requests per wall second on a long run (target ≥ 50,000);
- grade_peak_rss_mb: peak resident memory of a grade process (target ≤ 300 MB).
Targets are reported, never asserted in tests.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from slolab import paths
from slolab.catalog import lab as lab_mod
from slolab.workspace import variants

LAB = "readiness-probes"


def _grade_runs(runs: int, plot: bool) -> tuple[list[float], float]:
    lab = lab_mod.load(LAB)
    with tempfile.TemporaryDirectory() as tmp:
        variants.write(variants.solution_files(lab), Path(tmp) / LAB)
        env = {**os.environ, "SLOLAB_WORKSPACE": tmp, "SLOLAB_ROOT": str(paths.root())}
        walls = []
        rss_kb = 0
        for _ in range(runs):
            cmd = [sys.executable, "-m", "slolab.cli", "grade", LAB, "--backend", "sim"]
            if not plot:
                cmd.append("--no-plot")
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - start)
            rss_kb = max(rss_kb, usage.ru_maxrss)
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"grade of the reference solution failed: {' '.join(cmd)}")
    return walls, rss_kb / 1024


def _sim_throughput(duration_s: float = 1200.0, replicas: int = 8, rate_rps: float = 60.0) -> dict:
    from slolab.backends import sim
    from slolab.catalog import scenario as scenario_mod
    from slolab.load import requestlog  # noqa: F401  (import cost outside the timing)

    lab = lab_mod.load(LAB)
    files = variants.solution_files(lab)
    files["deployment.yaml"] = files["deployment.yaml"].replace("replicas: 3", f"replicas: {replicas}")
    scenario = scenario_mod.load(lab.scenario)
    profile = scenario.traffic["chat"].model_copy(update={"rate_rps": rate_rps})
    with tempfile.TemporaryDirectory() as tmp:
        variants.write(files, Path(tmp))
        backend = sim.SimBackend(lab, Path(tmp), seed=1)
        backend.clock.sleep(120)  # models loaded
        scenario.traffic["bench"] = profile
        start = time.perf_counter()
        log = backend.load.run("bench", duration_s)
        wall = time.perf_counter() - start
        del scenario.traffic["bench"]
    return {
        "requests": len(log),
        "ok": len(log.ok()),
        "virtual_s": duration_s,
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(log) / wall),
        "replicas": replicas,
        "rate_rps": rate_rps,
    }


def run(output: Path, runs: int, console: Console) -> dict:
    console.print(f"… grading {LAB} on sim {runs}× (reference solution, process start included)")
    walls, rss_mb = _grade_runs(runs, plot=True)
    walls_np, _ = _grade_runs(runs, plot=False)
    console.print("… a long simulation run")
    throughput = _sim_throughput()
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
        "grade_wall_s": {
            "median": round(statistics.median(walls), 3),
            "runs": [round(w, 3) for w in walls],
            "target": 1.5,
        },
        "grade_wall_s_no_plot": {
            "median": round(statistics.median(walls_np), 3),
            "runs": [round(w, 3) for w in walls_np],
        },
        "grade_peak_rss_mb": {"value": round(rss_mb, 1), "target": 300},
        "sim_requests_per_s": {**throughput, "target": 50000},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(
        f"✓ grade {result['grade_wall_s']['median']} s (target ≤ 1.5), "
        f"{throughput['requests_per_s']:,} simulated req/s (target ≥ 50,000), "
        f"peak RSS {rss_mb:.0f} MB (target ≤ 300). Wrote {output}."
    )
    return result
