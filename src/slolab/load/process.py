"""Real open-loop load from the grader's side: the generator runs as a child process.

locust monkey-patches its process with gevent, which breaks asyncio, threads and kopf, so the
grader never imports it: ``Generator`` starts ``python -m slolab.load.generate`` and reads its
files back, and ``ProcessLoad`` builds the ``Load`` protocol of ``backends.base`` on it for the
kind and cluster backends (``start(profile)`` → handle, ``stop(handle, drain_s)`` → RequestLog,
``run(profile, duration_s)``). Importing this module imports neither locust nor gevent.

A run's files live in a temporary folder: ``requests.jsonl`` (``record.py``), ``events.jsonl``
(the child's progress lines) and ``generate.log`` (its stderr); it is removed after a clean
stop unless ``keep`` is set, and named in every error otherwise. The child writes each request's
line as it finishes (line-buffered), so ``Generator.peek`` / ``ProcessLoad.so_far`` read the
requests finished so far while it runs (a game day's stop condition), as ``tail -f`` would.

Times: the child measures from its own run start; the parent learns the wall-clock time of that
start from the ``started`` line and places it on the backend's clock, so a request's
``arrival_s`` is in the same run seconds as ``lab.events``. The seed of a profile's n-th run
is the string the ``sim`` backend uses (``schedule.traffic_seed``), so a lab's seed gives the
same arrival schedule on sim and on a real cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from slolab import errors
from slolab.catalog import scenario as scenario_mod
from slolab.load import record as record_mod
from slolab.load import requestlog
from slolab.run import request as request_mod
from slolab.run import schedule


class Clock(Protocol):
    def now_s(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """Seconds since this object was made; ``sleep`` really sleeps. ``t0_epoch``: its start as
    Unix time (to place API timestamps on the same axis)."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self.t0_epoch = time.time()

    def now_s(self) -> float:
        return time.monotonic() - self._t0

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclasses.dataclass
class Outcome:
    """What one generator run left behind."""

    records: list[request_mod.Request]
    started_unix_s: float
    arrivals_stopped_s: float | None
    summary: dict[str, Any]
    workdir: Path


class Generator:
    """One ``python -m slolab.load.generate`` child: start, wait for it to begin, stop, read back."""

    def __init__(
        self,
        url: str,
        model: str,
        profile: scenario_mod.TrafficProfile,
        seed: str,
        *,
        duration_s: float | None = None,
        max_requests: int | None = None,
        max_in_flight: int = 2000,
        drain_s: float | None = None,
        run_id: str | None = None,
        workdir: Path | None = None,
        keep: bool = False,
    ) -> None:
        self.url = url
        self.profile = profile
        self.keep = keep
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="slolab-load-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.requests_file = self.workdir / "requests.jsonl"
        self.events_file = self.workdir / "events.jsonl"
        self.log_file = self.workdir / "generate.log"
        cmd = [
            sys.executable,
            "-m",
            "slolab.load.generate",
            "--url", url,
            "--model", model,
            "--profile-json", profile.model_dump_json(),
            "--seed", seed,
            "--out", str(self.requests_file),
            "--max-in-flight", str(max_in_flight),
        ]  # fmt: skip
        for flag, value in (
            ("--duration-s", duration_s),
            ("--max-requests", max_requests),
            ("--drain-s", drain_s),
            ("--run-id", run_id),
        ):
            if value is not None:
                cmd += [flag, str(value)]
        self.command = cmd
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_unix_s: float | None = None
        self._peeked = 0  # bytes of requests.jsonl read by peek()

    # ---------------------------------------------------------------- start

    def start(self, timeout_s: float = 30.0) -> float:
        """Start the child and wait for its ``started`` line; returns the run start (unix seconds)."""
        with self.events_file.open("wb") as out, self.log_file.open("wb") as log:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            started = self._event("started")
            if started is not None:
                self.started_unix_s = float(started["unix_s"])
                return self.started_unix_s
            if self.proc.poll() is not None:
                self._fail(f"the load generator exited with code {self.proc.returncode} before it started")
            time.sleep(0.02)
        self.kill()
        self._fail(f"the load generator did not start within {timeout_s:g} s")
        raise AssertionError("unreachable")

    # ---------------------------------------------------------------- stop

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout_s: float) -> bool:
        """Wait for the child to exit by itself (its schedule ended and it drained)."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self, drain_s: float | None = None, exit_timeout_s: float = 15.0) -> Outcome:
        """Stop arrivals (SIGTERM), wait up to ``drain_s`` for requests in flight, read the files.

        ``drain_s`` defaults to the profile's client timeout. After it, a second SIGTERM ends the
        drain; requests still unfinished come back with ``status`` None.
        """
        if self.proc is None:
            raise errors.BackendError("the load generator was never started", "Call start() first.")
        drain = self.profile.timeout_s if drain_s is None else drain_s
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            self.wait(drain)
        # end the drain; repeated because two SIGTERMs sent close together arrive as one
        deadline = time.monotonic() + exit_timeout_s
        while self.running() and time.monotonic() < deadline:
            self.proc.send_signal(signal.SIGTERM)
            self.wait(0.5)
        if self.running():
            self.kill()
            self._fail(f"the load generator did not exit within {exit_timeout_s:g} s of the end of its drain")
        if self.proc.returncode != 0:
            self._fail(f"the load generator exited with code {self.proc.returncode}")
        done = self._event("done")
        if done is None:
            self._fail("the load generator exited without its 'done' line")
        outcome = Outcome(
            records=record_mod.read(self.requests_file),
            started_unix_s=self.started_unix_s or 0.0,
            arrivals_stopped_s=done.get("arrivals_stopped_s") if done else None,
            summary=done or {},
            workdir=self.workdir,
        )
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return outcome

    def peek(self) -> list[request_mod.Request]:
        """The requests that finished since the last peek (times from the run start), read from
        the live request file without stopping the child: whole lines only (a line the child is
        still writing is read by the next peek)."""
        if not self.requests_file.is_file():
            return []
        with self.requests_file.open("rb") as fh:
            fh.seek(self._peeked)
            chunk = fh.read()
        end = chunk.rfind(b"\n") + 1
        self._peeked += end
        out = []
        for line in chunk[:end].decode("utf-8").splitlines():
            if line.strip():
                try:
                    out.append(record_mod.from_json(line))
                except (ValueError, TypeError) as exc:
                    raise errors.BackendError(
                        f"{self.requests_file}: not a request record while the load runs ({exc})",
                        "The load generator wrote a broken line; see generate.log beside it.",
                    ) from None
        return out

    def kill(self) -> None:
        """SIGKILL the child, by its PID, if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    # ---------------------------------------------------------------- files

    def events(self) -> list[dict[str, Any]]:
        if not self.events_file.is_file():
            return []
        out = []
        for line in self.events_file.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line being written
        return out

    def _event(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.events() if e.get("event") == name), None)

    def _fail(self, what: str) -> None:
        tail = ""
        if self.log_file.is_file():
            lines = self.log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            tail = "\n".join(f"    {line}" for line in lines[-15:])
        raise errors.BackendError(
            f"{what} (url {self.url}).\n  Its files are in {self.workdir}"
            + (f"; generate.log ends:\n{tail}" if tail else ""),
            f"Run it by hand to see why: {shlex.join(self.command)}",
        )


class ProcessLoadHandle:
    def __init__(self, profile: str, generator: Generator, started_s: float, id_base: int) -> None:
        self.profile = profile
        self.generator = generator
        self.started_s = started_s
        self.id_base = id_base
        #: the requests read so far while the load runs (``ProcessLoad.so_far``), backend clock
        self.finished: list[request_mod.Request] = []

    def placed(self, records: Iterable[request_mod.Request]) -> list[request_mod.Request]:
        """The child's ``records`` on the backend's clock and ids (``record.on_backend_clock``)."""
        timeout_s = self.generator.profile.timeout_s
        return [
            record_mod.on_backend_clock(
                rec, started_s=self.started_s, id_base=self.id_base, profile=self.profile, timeout_s=timeout_s
            )
            for rec in records
        ]


class ProcessLoad:
    """The ``Load`` protocol on a real server: each started profile is one generator child."""

    def __init__(
        self,
        url: str,
        model: str,
        scenario: scenario_mod.Scenario,
        seed: int | str,
        clock: Clock | None = None,
        *,
        max_in_flight: int = 2000,
        keep: bool = False,
    ) -> None:
        self.url = url
        self.model = model
        self.scenario = scenario
        self.seed = seed
        self.clock = clock if clock is not None else WallClock()
        self.max_in_flight = max_in_flight
        self.keep = keep
        self._count = 0
        self._running: list[ProcessLoadHandle] = []
        self.logs: list[requestlog.RequestLog] = []

    def start(self, profile: str) -> ProcessLoadHandle:
        spec = self.scenario.profile(profile)
        count = self._count
        self._count += 1
        generator = Generator(
            self.url,
            self.model,
            spec,
            schedule.traffic_seed(self.seed, profile, count),
            max_in_flight=self.max_in_flight,
            run_id=f"{profile}-{count}-{os.getpid()}",
            keep=self.keep,
        )
        started_unix_s = generator.start()
        started_s = self.clock.now_s() - (time.time() - started_unix_s)
        handle = ProcessLoadHandle(profile, generator, started_s, id_base=(count + 1) * 10_000_000)
        self._running.append(handle)
        return handle

    def stop(self, handle: ProcessLoadHandle, drain_s: float | None = None) -> requestlog.RequestLog:
        if handle in self._running:
            self._running.remove(handle)
        outcome = handle.generator.stop(drain_s)
        spec = handle.generator.profile
        requests = handle.placed(outcome.records)
        stopped = outcome.arrivals_stopped_s
        log = requestlog.RequestLog(
            requests,
            profile=handle.profile,
            rate_rps=spec.rate_rps,
            started_s=handle.started_s,
            stopped_s=None if stopped is None else handle.started_s + stopped,
        )
        self.logs.append(log)
        return log

    def so_far(self, handle: ProcessLoadHandle) -> list[request_mod.Request]:
        """The requests of ``handle`` finished so far, on the backend's clock, read from the
        child's live request file (``Generator.peek``); the load goes on."""
        handle.finished.extend(handle.placed(r for r in handle.generator.peek() if r.status is not None))
        return list(handle.finished)

    def run(self, profile: str, duration_s: float) -> requestlog.RequestLog:
        handle = self.start(profile)
        self.clock.sleep(duration_s)
        return self.stop(handle)

    def close(self) -> None:
        """Kill every generator still running (by PID); their logs are lost."""
        for handle in self._running:
            handle.generator.kill()
        self._running.clear()
