"""Load windows: run a traffic profile and keep, with its request log, the run time it covered.

Checks are windowed from the load's start (DESIGN.md §3), so a grader needs both the requests
and the spans of run time they are judged over. Two shapes:

* ``run(backend, profile, duration_s, name)``: start, let ``duration_s`` pass, stop; a
  ``LoadWindow`` (the log and the one window);
* ``Session(backend, profile)``, a context manager for a run in phases: the load keeps going
  while the grader acts, and ``hold(name, duration_s)`` / ``with session.window(name):`` name
  the spans; leaving the ``with`` stops the load (also when the grader raised) and
  ``session.log`` is the request log::

      with Session(lab, "chat") as load:
          steady = load.hold("steady state", 90)
          with load.window("rolling update"):
              lab.cluster.rollout_restart("Deployment", "llm")
              ...
      update = load.windows["rolling update"]

A window ends when its phase ends, before the load stops and requests in flight drain.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from types import TracebackType

from slolab.backends import base
from slolab.load import requestlog


@dataclasses.dataclass(frozen=True)
class LoadWindow:
    """A finished load: its request log and the window of run time it ran in."""

    log: requestlog.RequestLog
    window: requestlog.Window

    def requests(self) -> requestlog.RequestLog:
        """The requests that arrived inside the window."""
        return self.log.window(self.window)


class Session:
    """One traffic profile running in the background, cut into named windows of run time."""

    def __init__(self, backend: base.Backend, profile: str) -> None:
        self._backend = backend
        self.profile = profile
        self.windows: dict[str, requestlog.Window] = {}
        self._handle: base.LoadHandle | None = None
        self._log: requestlog.RequestLog | None = None
        self.started_s: float | None = None

    def start(self) -> Session:
        if self._handle is not None or self._log is not None:
            raise RuntimeError(f"the load of profile {self.profile!r} was already started")
        self._handle = self._backend.load.start(self.profile)
        self.started_s = self._backend.clock.now_s()
        return self

    def __enter__(self) -> Session:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self.stop()

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator[None]:
        """Name the run time the ``with`` block takes: ``windows[name]``, ``[start, end)``."""
        if self._handle is None:
            raise RuntimeError(f"window {name!r} needs the load running: start it first")
        if name in self.windows:
            raise ValueError(f"a window named {name!r} exists already")
        start_s = self._backend.clock.now_s()
        try:
            yield
        finally:
            self.windows[name] = requestlog.Window(name, start_s, self._backend.clock.now_s())

    def hold(self, name: str, duration_s: float) -> requestlog.Window:
        """Keep the load on for ``duration_s`` and name that span ``name``."""
        with self.window(name):
            self._backend.clock.sleep(duration_s)
        return self.windows[name]

    def stop(self, drain_s: float | None = None) -> requestlog.RequestLog:
        """Stop new arrivals, let requests in flight finish (the backend's drain), keep the log."""
        if self._handle is None:
            raise RuntimeError(f"the load of profile {self.profile!r} is not running")
        handle, self._handle = self._handle, None
        self._log = self._backend.load.stop(handle, drain_s)
        return self._log

    @property
    def log(self) -> requestlog.RequestLog:
        """The request log, once the load has stopped."""
        if self._log is None:
            raise RuntimeError(f"the load of profile {self.profile!r} has not stopped yet: no log")
        return self._log


def run(backend: base.Backend, profile: str, duration_s: float, name: str) -> LoadWindow:
    """Start ``profile``, let ``duration_s`` pass, stop: the log and the window ``name``."""
    with Session(backend, profile) as session:
        window = session.hold(name, duration_s)
    return LoadWindow(session.log, window)
