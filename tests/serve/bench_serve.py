"""How many streamed requests per second one ``slolab serve`` process keeps in time.

Not a test (pytest does not collect it): run it by hand, on a machine with a spare core for the
client processes::

    .venv/bin/python tests/serve/bench_serve.py RATE [SECONDS PROMPT MAX_TOKENS CLIENTS]

It starts ``slolab serve`` (one process, one core), drives it with CLIENTS processes of
sse_load.py (open-loop Poisson, RATE/CLIENTS each, a new connection per request), then reads
the server's CPU time (/proc) and /metrics, and prints: requests done, tokens written per
second, the server's CPU use, and how late tokens were written (``slolab_serve_token_lateness
_seconds``: wall clock minus the engine's step end), plus the clients' TTFT against the
engine's. Keep the workload within the simulated GPU's capacity (short prompts), or the engine's
queue grows and that, not the server, sets the latencies.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(url + "/metrics").read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name + ("{le=" + s.labels["le"] + "}" if "le" in s.labels else "")
            if s.name == "vllm:request_success_total":
                key += "{" + s.labels["finished_reason"] + "}"
            out[key] = out.get(key, 0.0) + s.value
    return out


def main(argv: list[str]) -> None:
    rate = float(argv[0])
    seconds = float(argv[1]) if len(argv) > 1 else 10.0
    prompt = int(argv[2]) if len(argv) > 2 else 32
    max_tokens = int(argv[3]) if len(argv) > 3 else 32
    clients = int(argv[4]) if len(argv) > 4 else 2
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "slolab.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "loaded in" in line:
                break
        cpu0, wall0 = cpu_s(server.pid), time.monotonic()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(HERE, "sse_load.py"),
                    url,
                    "poisson",
                    str(rate / clients),
                    str(seconds),
                    str(prompt),
                    str(max_tokens),
                    str(k + 1),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for k in range(clients)
        ]
        records = []
        for p in procs:
            out, _ = p.communicate(timeout=seconds + 300)
            records += json.loads(out)["requests"]
        cpu1, wall1 = cpu_s(server.pid), time.monotonic()
        m = scrape(url)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    ok = [r for r in records if r["status"] == 200 and len(r["tokens"]) == r["max_tokens"]]
    written = m["slolab_serve_token_lateness_seconds_count"]
    bucket = "slolab_serve_token_lateness_seconds_bucket{{le={}}}"
    late = {le: m[bucket.format(le)] / written for le in ("0.001", "0.002", "0.005", "0.01", "0.05")}
    ttft_client = [r["tokens"][0] - r["sent"] for r in ok]
    ttft_engine_mean = m["vllm:time_to_first_token_seconds_sum"] / m["vllm:time_to_first_token_seconds_count"]
    busy_s = wall1 - wall0
    print(
        json.dumps(
            {
                "offered_rps": rate,
                "seconds": seconds,
                "prompt_tokens": prompt,
                "max_tokens": max_tokens,
                "requests": len(records),
                "ok": len(ok),
                "completed_rps": round(len(ok) / seconds, 1),
                "tokens_written_per_s": round(written / busy_s),
                "server_cpu_percent": round(100 * (cpu1 - cpu0) / busy_s, 1),
                "token_lateness_share_within": {
                    f"{float(k) * 1e3:g} ms": round(v, 4) for k, v in late.items()
                },
                "engine_ttft_mean_ms": round(ttft_engine_mean * 1e3, 2),
                "client_ttft_median_ms": round(statistics.median(ttft_client) * 1e3, 2),
                "client_ttft_p99_ms": round(statistics.quantiles(ttft_client, n=100)[-1] * 1e3, 2),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
