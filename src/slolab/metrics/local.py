"""A throwaway Prometheus on 127.0.0.1 that scrapes given targets every second.

Runs the Debian package's ``prometheus`` binary (2.42, research/tooling-loopback.md §2) with a
generated config (https://prometheus.io/docs/prometheus/2.42/configuration/configuration/) and
a temporary TSDB directory, waits for ``/-/ready`` and for ``up == 1`` of every target, and
stops it by PID. The first sample of a target is queryable about 6 s after start even at a 1 s
interval (the scrape manager applies target updates at most every 5 s), hence the wait.

With ``openmetrics_file`` (and no targets) it scrapes nothing and serves the samples of that file
instead, backfilled with ``promtool tsdb create-blocks-from openmetrics`` into its TSDB folder
before it starts: the PromQL conformance tests query a real Prometheus over the same samples as
slolab's engine this way. Its ``evaluation_interval`` is then Prometheus' default, 1m (the step of
a subquery without one).

With ``remote_write`` it also accepts samples on /api/v1/write (--web.enable-remote-write-receiver;
slolab.metrics.remotewrite pushes a TSDB, staleness markers included).

Used by tests and by the loopback end-to-end test. Without the binary, ``binary_or_skip`` skips
a test with the install command, or fails it when ``SLOLAB_REQUIRE_PROMETHEUS=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from slolab import errors
from slolab.metrics import query

INSTALL = "apt-get install -y --no-install-recommends prometheus"
FALLBACK_BINARY = "/usr/bin/prometheus"
FALLBACK_PROMTOOL = "/usr/bin/promtool"


def find_binary(path_env: str | None = None, fallback: str = FALLBACK_BINARY) -> str | None:
    """``prometheus`` on PATH (or ``path_env``), else ``fallback`` when it exists, else None."""
    found = shutil.which("prometheus", path=path_env)
    if found:
        return found
    return fallback if fallback and os.access(fallback, os.X_OK) else None


def find_promtool(path_env: str | None = None, fallback: str = FALLBACK_PROMTOOL) -> str | None:
    """``promtool`` (shipped with the prometheus package) on PATH, else ``fallback``, else None."""
    found = shutil.which("promtool", path=path_env)
    if found:
        return found
    return fallback if fallback and os.access(fallback, os.X_OK) else None


def binary_or_skip(
    path_env: str | None = None, fallback: str = FALLBACK_BINARY, name: str = "prometheus"
) -> str:
    """The binary for a test; skip without it, or fail when SLOLAB_REQUIRE_PROMETHEUS=1."""
    import pytest

    found = find_promtool(path_env) if name == "promtool" else find_binary(path_env, fallback)
    if found:
        return found
    message = f"the {name} binary is not installed; install it with: {INSTALL}"
    if os.environ.get("SLOLAB_REQUIRE_PROMETHEUS") == "1":
        pytest.fail(
            f"{message} (SLOLAB_REQUIRE_PROMETHEUS=1 makes a missing binary a failure)", pytrace=False
        )
    pytest.skip(message)
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalPrometheus:
    """``with LocalPrometheus(["127.0.0.1:8000"]) as prom: prom.client().scalar("up")``."""

    def __init__(
        self,
        targets: Sequence[str],
        *,
        job: str = "slolab",
        scrape_interval_s: float = 1.0,
        metrics_path: str = "/metrics",
        binary: str | None = None,
        keep: bool = False,
        openmetrics_file: str | Path | None = None,
        remote_write: bool = False,
    ) -> None:
        if not targets and openmetrics_file is None and not remote_write:
            raise ValueError(
                "LocalPrometheus needs at least one host:port target, an openmetrics_file, or remote_write"
            )
        self.remote_write = remote_write
        self.openmetrics_file = Path(openmetrics_file) if openmetrics_file is not None else None
        self.targets = list(targets)
        self.job = job
        self.scrape_interval_s = scrape_interval_s
        self.metrics_path = metrics_path
        self.binary = binary or find_binary()
        self.keep = keep
        self.workdir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise errors.BackendError("the local Prometheus is not running", "Call start() first.")
        return f"http://127.0.0.1:{self.port}"

    def client(self, timeout_s: float = 10.0) -> query.Prometheus:
        return query.Prometheus(self.url, timeout_s=timeout_s)

    def config(self) -> dict:
        if not self.targets:
            return {"global": {}, "scrape_configs": []}
        interval = f"{round(self.scrape_interval_s * 1000)}ms"
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {
                    "job_name": self.job,
                    "scrape_interval": interval,
                    "scrape_timeout": interval,
                    "metrics_path": self.metrics_path,
                    "static_configs": [{"targets": self.targets}],
                }
            ],
        }

    # ---------------------------------------------------------------- lifecycle

    def start(self, ready_timeout_s: float = 15.0, targets_timeout_s: float = 30.0) -> str:
        """Start, wait for /-/ready and for every target to be up; returns the URL."""
        if self.binary is None:
            raise errors.ToolError("the prometheus binary is not installed.", f"Install it: {INSTALL}")
        self.workdir = Path(tempfile.mkdtemp(prefix="slolab-prometheus-"))
        config_file = self.workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(self.config(), sort_keys=False), encoding="utf-8")
        if self.openmetrics_file is not None:
            self._backfill(self.workdir / "data")
        for _attempt in range(3):  # the free port can be taken between the probe and the bind
            self.port = _free_port()
            with (self.workdir / "prometheus.log").open("ab") as log:
                self.proc = subprocess.Popen(
                    [
                        self.binary,
                        f"--config.file={config_file}",
                        f"--storage.tsdb.path={self.workdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        # pushed or backfilled samples can be years old: keep them
                        "--storage.tsdb.retention.time=100y"
                        if self.openmetrics_file or self.remote_write
                        else "--storage.tsdb.retention.time=1d",
                        *(["--web.enable-remote-write-receiver"] if self.remote_write else []),
                    ],
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                )
            if self._wait_ready(ready_timeout_s):
                break
            tail = self._log_tail()
            if "address already in use" not in tail:
                self.stop()
                raise errors.BackendError(
                    f"the local Prometheus did not become ready within {ready_timeout_s:g} s; "
                    f"its log ends:\n{tail}"
                )
        else:
            self.stop()
            raise errors.BackendError("the local Prometheus could not bind a free port in 3 tries")
        if self.targets:
            try:
                self.wait_for_targets(targets_timeout_s)
            except BaseException:
                self.stop()
                raise
        return self.url

    def _backfill(self, data_dir: Path) -> None:
        promtool = find_promtool()
        if promtool is None:
            raise errors.ToolError("the promtool binary is not installed.", f"Install it: {INSTALL}")
        data_dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(self.openmetrics_file),
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise errors.ToolError(
                f"promtool could not backfill {self.openmetrics_file}: "
                f"{done.stderr.strip() or done.stdout.strip()}",
                f"Check it: promtool tsdb create-blocks-from openmetrics {self.openmetrics_file} /tmp/x",
            )

    def _wait_ready(self, timeout_s: float) -> bool:
        import urllib.request

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def wait_for_targets(self, timeout_s: float = 30.0) -> None:
        """Until ``up{job=...} == 1`` for every target; BackendError naming the ones that are not."""
        client = self.client(timeout_s=2.0)
        deadline = time.monotonic() + timeout_s
        up: dict[str, float] = {}
        while time.monotonic() < deadline:
            rows = client.query(f'up{{job="{self.job}"}}')
            up = {r["metric"].get("instance", ""): float(r["value"][1]) for r in rows}
            if all(up.get(t) == 1.0 for t in self.targets):
                client.close()
                return
            time.sleep(0.2)
        client.close()
        down = [t for t in self.targets if up.get(t) != 1.0]
        raise errors.BackendError(
            f"the local Prometheus at {self.url} did not scrape {', '.join(down)} within {timeout_s:g} s "
            f"(up: {up or 'no samples yet'}).",
            "Check that the target answers: curl http://" + down[0] + self.metrics_path,
        )

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL after 10 s; the TSDB folder goes unless ``keep``."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.proc = None
        if self.workdir is not None and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _log_tail(self, lines: int = 10) -> str:
        if self.workdir is None or not (self.workdir / "prometheus.log").is_file():
            return ""
        text = (self.workdir / "prometheus.log").read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.strip().splitlines()[-lines:])

    def __enter__(self) -> LocalPrometheus:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
