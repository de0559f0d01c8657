"""``make bench``: the numbers behind the performance targets, written to bench.json.

- grade_wall_s: wall seconds of ``slolab grade readiness-probes`` on sim, process start
  included, median of N runs on the reference solution (target ≤ 1.5 s); ``other_labs`` has
  the same (and the peak RSS) for every other lab of the catalog that runs on sim;
- sim_requests_per_s: simulated requests per wall second on a long run (target ≥ 50,000),
  median of 3, on the engine build the simulator uses (sim/native.py: the mypyc build when it
  is current); sim_requests_per_s_engine_py: the same on engine.py itself;
- grade_peak_rss_mb: peak resident memory of a grade process (target ≤ 300 MB);
- load_clean_rate_rps: the locust generator's highest open-loop rate at which client p99 TTFT
  still agrees with the server's within 5 ms (slolab.load.cleanrate, against the fixed-latency
  reference server in a process of its own, on the same machine);
- operator_create_to_ready_s: ``python -m slolab_operator`` against the API emulator on
  127.0.0.1 (tests/kube_emulator.py, so a checkout is needed), from ``Lab`` create until its
  Ready condition, helm install included, median of N labs; and the operator's peak RSS;
- promql_eval_s: slolab's PromQL engine on
  ``histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))``
  over 30 pods for a 1-hour range at 15 s steps (slolab.promql.synthetic samples), median of 7
  (target ≤ 0.1 s), wall and CPU seconds; promql_tsdb_mb: that TSDB's memory, as counted by
  ``TSDB.memory_bytes`` and by tracemalloc while it was built (target ≤ 50 MB).
- grade_scrape: the grade above scrapes its metrics (sim/scrape.py); grade_wall_s and
  grade_peak_rss_mb are that grade (targets ≤ 1.5 s, ≤ 300 MB). The scrape writes into the
  TSDB when it is first read, so a grade that asks no PromQL does not pay for the vLLM
  histograms; ``flush_s`` is what reading it costs after a run shaped like the grader's
  (readiness for 3 pods, 90 s of chat load, a rolling restart, 60 s more), with that TSDB's
  series, samples and ``TSDB.memory_bytes``; ``save_s`` what keeping it as reports/metrics.tsdb
  costs (promql/snapshot.py).
- scheduling_s: the simulator's kube-scheduler placing 1,000 pending pods on 100 nodes (10
  zones, 4 pools), each pod with required and preferred node affinity, preferred pod
  anti-affinity on the hostname within its group of 50 and a zone topology spread constraint
  (maxSkew 1, DoNotSchedule): wall and CPU seconds of the pass that binds them all, median of 3
  (target ≤ 2 s).
- gameday_60m_wall_s: wall seconds of ``slolab gameday <lab> --duration 60m`` on sim, process
  start included (the default chaos schedule: pod kills every 10 minutes, a network delay, a
  drain and a node loss, steady load), on the lab's reference solution, median of 3 (target
  ≤ 5 s); the lab is chaos-pod-kill where the catalog has it, else readiness-probes. Its stop
  condition is evaluated every 15 s but set out of reach (``--stop-burn 1000000``), so the whole
  schedule runs: the most a game day costs.
Targets are reported, never asserted in tests.
"""

from __future__ import annotations

import gc
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
from slolab.sim import native
from slolab.workspace import variants

LAB = "readiness-probes"


def _grade_runs(runs: int, plot: bool, name: str = LAB) -> tuple[list[float], float]:
    lab = lab_mod.load(name)
    with tempfile.TemporaryDirectory() as tmp:
        variants.write(variants.solution_files(lab), Path(tmp) / name)
        env = {**os.environ, "SLOLAB_WORKSPACE": tmp, "SLOLAB_ROOT": str(paths.root())}
        walls = []
        rss_kb = 0
        for _ in range(runs):
            cmd = [sys.executable, "-m", "slolab.cli", "grade", name, "--backend", "sim"]
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


def _gameday_runs(runs: int = 3) -> dict:
    """``slolab gameday`` of 60 minutes on sim, process start included (see the docstring)."""
    name = "chaos-pod-kill" if "chaos-pod-kill" in lab_mod.names() else LAB
    lab = lab_mod.load(name)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws" / name
        variants.write(variants.solution_files(lab), ws)
        env = {**os.environ, "SLOLAB_GAMEDAY_DIR": str(Path(tmp) / "gd"), "SLOLAB_ROOT": str(paths.root())}
        cmd = [sys.executable, "-m", "slolab.cli", "gameday", name, "--team", "bench"]
        cmd += ["--duration", "60m", "--workspace", str(ws), "--stop-burn", "1000000"]
        walls = []
        for _ in range(runs):
            start = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
            if proc.returncode != 0:
                return {"lab": name, "error": (proc.stderr or proc.stdout).strip()[-500:], "target": 5.0}
    return {
        "lab": name,
        "median": round(statistics.median(walls), 3),
        "runs": [round(w, 3) for w in walls],
        "target": 5.0,
    }


def _scrape_cost() -> dict:
    """A run shaped like the readiness-probes grader's, then the first read of its TSDB."""
    from slolab.backends import sim as sim_backend

    lab = lab_mod.load(LAB)
    with tempfile.TemporaryDirectory() as tmp:
        variants.write(variants.solution_files(lab), Path(tmp) / LAB)
        start = time.perf_counter()
        backend = sim_backend.SimBackend(lab, Path(tmp) / LAB, lab.seeds[0])

        def ready() -> bool:
            status = (backend.cluster.get("Deployment", "llm") or {}).get("status", {})
            return status.get("readyReplicas") == 3 and status.get("updatedReplicas") == 3

        backend.cluster.wait_for(ready, timeout_s=600)
        handle = backend.load.start("chat")
        backend.clock.sleep(90)
        backend.cluster.rollout_restart("Deployment", "llm")
        backend.clock.sleep(1)
        backend.cluster.wait_for(ready, timeout_s=900)
        backend.clock.sleep(60)
        backend.load.stop(handle)
        run_s = time.perf_counter() - start
        flush_start = time.perf_counter()
        db = backend.sim.tsdb
        flush_s = time.perf_counter() - flush_start
        save_start = time.perf_counter()
        backend.prom.save_tsdb(Path(tmp) / "metrics.tsdb")
        save_s = time.perf_counter() - save_start
        return {
            "run_wall_s": round(run_s, 3),
            "flush_s": round(flush_s, 3),
            "save_s": round(save_s, 3),
            "virtual_s": round(backend.clock.now_s(), 1),
            "series": len(db),
            "samples": db.sample_count(),
            "tsdb_mb": round(db.memory_bytes() / 2**20, 2),
        }


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
        gc.collect()  # not the previous run's garbage: each run pays only for its own objects
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


def _sim_throughput_runs(engine_py: bool, runs: int = 3) -> dict:
    """``_sim_throughput`` ``runs`` times in a fresh process, on the compiled engine if it is
    current (the default) or on engine.py; the median run, with every run's rate."""
    env = {k: v for k, v in os.environ.items() if k != "SLOLAB_ENGINE"}
    if engine_py:
        env["SLOLAB_ENGINE"] = "python"
    code = (
        "import json; from slolab import bench; from slolab.sim import native; "
        f"runs = [bench._sim_throughput() for _ in range({runs})]; "
        "print(json.dumps({'runs': runs, 'engine': native.choice().reason, "
        "'compiled': native.choice().compiled}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.splitlines()[-1])
    rates = [r["requests_per_s"] for r in found["runs"]]
    median = sorted(found["runs"], key=lambda r: r["requests_per_s"])[len(rates) // 2]
    return {
        **median,
        "runs_requests_per_s": rates,
        "engine": "mypyc build of engine.py" if found["compiled"] else "engine.py",
        "engine_reason": found["engine"],
    }


def _clean_rate() -> dict:
    from slolab.load import cleanrate

    proc = subprocess.Popen(
        [sys.executable, "-m", "slolab.load.refserver", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"]
        found = cleanrate.highest_clean_rate(url, "ref")
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "rate_rps": found.rate_rps,
        "tolerance_ms": found.tolerance_s * 1000,
        "stopped_because": found.stopped_because,
        "steps": [
            {
                "rate_rps": st.rate_rps,
                "requests": st.requests,
                "p99_diff_ms": None if st.difference_s is None else round(st.difference_s * 1000, 2),
                "clean": st.clean(found.tolerance_s),
            }
            for st in found.steps
        ],
    }


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of a running process (Linux), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _operator_ready(labs: int = 3, timeout_s: float = 120.0) -> dict:
    """Create ``labs`` Labs one after another on the emulator; create → Ready seconds each."""
    sys.path.insert(0, str(paths.root() / "tests"))
    from kube_emulator import KubeEmulator

    from slolab import toolchain
    from slolab.kube import client
    from slolab.kube import labs as lab_resource

    crd = paths.charts_dir() / "slolab-operator/crds/labs.slolab.dev.yaml"
    with tempfile.TemporaryDirectory() as tmp, KubeEmulator([crd]) as api:
        kubeconfig = api.kubeconfig(Path(tmp) / "kubeconfig")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "SLOLAB_OPERATOR_"))}
        env.update(
            KUBECONFIG=str(kubeconfig),
            HOME=tmp,
            SLOLAB_OPERATOR_HELM=str(toolchain.helm_path()),
            SLOLAB_OPERATOR_HELM_OPENAPI_VALIDATION="false",  # the emulator serves no /openapi
        )
        log = (Path(tmp) / "operator.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "slolab_operator", "--standalone"], env=env, stdout=log, stderr=log
        )
        try:
            from kubernetes import config as kube_config

            kube = client.Kube(kube_config.new_client_from_config(config_file=str(kubeconfig)), "emulator")
            times = []
            for i in range(labs):
                name = f"bench-{i}"
                start = time.perf_counter()
                kube.create(
                    {
                        "apiVersion": "slolab.dev/v1alpha1",
                        "kind": "Lab",
                        "metadata": {"name": name},
                        "spec": {"lab": LAB},
                    }
                )
                lab_resource.wait_ready(kube, name, timeout_s=timeout_s, poll_s=0.02, say=lambda _line: None)
                times.append(time.perf_counter() - start)
            rss = _peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(20)
            log.close()
    return {
        "median_s": round(statistics.median(times), 3),
        "runs_s": [round(t, 3) for t in times],
        "operator_peak_rss_mb": round(rss, 1),
        "note": "API emulator (kmock) on 127.0.0.1; helm install of charts/llm-serving included",
    }


PROMQL_BENCH_QUERY = (
    "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))"
)


def _promql(pods: int = 30, duration_s: float = 3600.0, step_s: float = 15.0, runs: int = 7) -> dict:
    import tracemalloc

    from slolab.promql import engine, synthetic

    gc.collect()
    tracemalloc.start()
    db = synthetic.serving_run(seed=1, pods=pods, duration_s=duration_s, churn=False)
    gc.collect()
    traced_bytes, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    eng = engine.Engine(db)
    start_s = synthetic.START_S
    walls, cpus = [], []
    for _ in range(runs):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        eng.query_range(PROMQL_BENCH_QUERY, start_s, start_s + duration_s, step_s)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    return {
        "promql_eval_s": {
            "median": round(statistics.median(walls), 4),
            "cpu_median": round(statistics.median(cpus), 4),
            "runs": [round(w, 4) for w in walls],
            "target": 0.1,
            "query": PROMQL_BENCH_QUERY,
            "shape": f"{pods} pods, {duration_s:g} s at {step_s:g} s steps, {len(db)} series",
            "note": "the first run builds the numpy copies of the series; cpu_median is this process' CPU",
        },
        "promql_tsdb_mb": {
            "value": round(db.memory_bytes() / 1e6, 2),
            "tracemalloc": round(traced_bytes / 1e6, 2),
            "samples": db.sample_count(),
            "target": 50,
        },
    }


def _scheduling(pods: int = 1000, nodes: int = 100, zones: int = 10, groups: int = 20, runs: int = 3) -> dict:
    from slolab.catalog import scenario as scenario_mod
    from slolab.sim import cluster as cluster_mod
    from slolab.sim import objects, quantity, store

    def one() -> tuple[float, float, int]:
        cluster_nodes = [
            objects.Node(
                meta=store.Meta(
                    name=f"node-{i:03d}",
                    labels={
                        "kubernetes.io/hostname": f"node-{i:03d}",
                        "topology.kubernetes.io/zone": f"zone-{i % zones}",
                        "pool": "abcd"[i % 4],
                    },
                ),
                taints=[],
                allocatable=quantity.resources({"cpu": "64", "memory": "256Gi", "pods": "110"}),
            )
            for i in range(nodes)
        ]
        sim = cluster_mod.Cluster(scenario_mod.load("llama-8b-h100"), cluster_nodes, 1, "bench")
        sim.env.run(until=1)
        for i in range(pods):
            group = {"app": f"app-{i % groups}"}
            pool = {"key": "pool", "operator": "In"}
            spec = {
                "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "500m"}}}],
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchExpressions": [{**pool, "values": ["a", "b", "c"]}]}]
                        },
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 10, "preference": {"matchExpressions": [{**pool, "values": ["a"]}]}}
                        ],
                    },
                    "podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 50,
                                "podAffinityTerm": {
                                    "labelSelector": {"matchLabels": group},
                                    "topologyKey": "kubernetes.io/hostname",
                                },
                            }
                        ]
                    },
                },
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": group},
                    }
                ],
            }
            meta = store.Meta(name=f"p-{i}", namespace="bench", labels=group)
            sim.store.create(objects.Pod(meta=meta, spec=spec, containers=[]))
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        sim.env.run(until=2)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return wall, cpu, sum(1 for p in sim.store.list("v1", "Pod") if p.node)

    results = [one() for _ in range(runs)]
    return {
        "pods": pods,
        "nodes": nodes,
        "scheduled": results[0][2],
        "wall_s": round(statistics.median(r[0] for r in results), 3),
        "cpu_s": round(statistics.median(r[1] for r in results), 3),
        "runs_wall_s": [round(r[0], 3) for r in results],
        "target": 2.0,
    }


def run(output: Path, runs: int, console: Console) -> dict:
    console.print(f"… grading {LAB} on sim {runs}× (reference solution, process start included)")
    walls, rss_mb = _grade_runs(runs, plot=True)
    walls_np, _ = _grade_runs(runs, plot=False)
    others = {}
    for name in lab_mod.names():
        if name != LAB and "sim" in lab_mod.load(name).backends:
            console.print(f"… grading {name} on sim {runs}× (reference solution, process start included)")
            lab_walls, lab_rss_mb = _grade_runs(runs, plot=True, name=name)
            others[name] = {
                "grade_wall_s": {
                    "median": round(statistics.median(lab_walls), 3),
                    "runs": [round(w, 3) for w in lab_walls],
                    "target": 1.5,
                },
                "grade_peak_rss_mb": {"value": round(lab_rss_mb, 1), "target": 300},
            }
    console.print("… a 60-minute game day on sim, 3× (process start included)")
    gameday = _gameday_runs()
    console.print("… the scrape: a run like the grader's, then the first read of its TSDB")
    scrape = _scrape_cost()
    console.print("… a long simulation run, 3× on the engine the simulator uses and 3× on engine.py")
    throughput = _sim_throughput_runs(engine_py=False)
    throughput_py = _sim_throughput_runs(engine_py=True)
    console.print("… the load generator's highest clean rate (about 2 minutes)")
    clean = _clean_rate()
    console.print("… the operator: Lab create to Ready on the API emulator")
    operator = _operator_ready()
    console.print("… PromQL: histogram_quantile over 30 pods, a 1-hour range at 15 s steps")
    promql = _promql()
    console.print("… the scheduler: 1,000 pods with affinity and spread constraints on 100 nodes")
    scheduling = _scheduling()
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.machine(),
            # set on these machines: Python writes no __pycache__, so a module `make setup` did
            # not byte-compile (one edited since) is compiled anew in every process
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        },
        "engine": native.choice().reason,
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
        "grade_scrape": scrape,
        "other_labs": others,
        "gameday_60m_wall_s": gameday,
        "sim_requests_per_s": {**throughput, "target": 50000},
        "sim_requests_per_s_engine_py": throughput_py,
        "load_clean_rate_rps": clean,
        "operator_create_to_ready_s": operator,
        **promql,
        "scheduling_s": scheduling,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(
        f"✓ grade {result['grade_wall_s']['median']} s (target ≤ 1.5), "
        f"{throughput['requests_per_s']:,} simulated req/s on the {throughput['engine']} "
        f"(target ≥ 50,000; {throughput_py['requests_per_s']:,} on engine.py), "
        f"peak RSS {rss_mb:.0f} MB (target ≤ 300), scraping on (its TSDB read in {scrape['flush_s']} s, "
        f"saved in {scrape['save_s']} s), "
        f"load clean up to {clean['rate_rps']:g} req/s, "
        f"operator Lab→Ready {operator['median_s']} s ({operator['operator_peak_rss_mb']:.0f} MB), "
        + "".join(
            f"{name}: grade {o['grade_wall_s']['median']} s, {o['grade_peak_rss_mb']['value']:.0f} MB; "
            for name, o in others.items()
        )
        + (
            f"60-minute game day {gameday['median']} s (target ≤ 5); "
            if "median" in gameday
            else f"60-minute game day failed: {gameday['error']}; "
        )
        + f"PromQL {promql['promql_eval_s']['median']} s (target ≤ 0.1), "
        f"TSDB {promql['promql_tsdb_mb']['value']} MB (target ≤ 50), "
        f"scheduling 1,000 pods on 100 nodes {scheduling['wall_s']} s (target ≤ 2). "
        f"Wrote {output}."
    )
    return result
