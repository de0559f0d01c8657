"""Draw the timeline in a second process that imports matplotlib while the grade still runs.

Importing matplotlib costs about 0.4 s, as much as a whole simulated grade. ``slolab grade``
starts this worker first thing (``start_early``) and the grading plugin takes it (``take``).
The worker imports matplotlib and sets up the empty figure (``timeline.blank``) on the other
core, then waits on stdin for ``timeline.prepare``'s data (pickled), draws the PNG and exits.
The grade process waits for it, so the PNG exists when ``slolab grade`` returns. If the worker
cannot start or fails, the caller draws in-process instead.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

_early: PlotWorker | None = None


def start_early() -> None:
    """Start a worker now, for the grading plugin to take (``slolab grade`` calls this first,
    so that matplotlib loads while the grade's own imports run); it is stopped at exit if no
    one took it."""
    global _early
    if _early is None:
        try:
            _early = PlotWorker()
        except OSError:
            return
        atexit.register(_early.close)


def take() -> PlotWorker:
    """The worker ``start_early`` started, or a new one (OSError if none can start)."""
    global _early
    worker, _early = _early, None
    return worker if worker is not None else PlotWorker()


class PlotWorker:
    """One drawing, in a child process started ahead of time."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "slolab.report.plotworker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def send(self, path: Path, data: dict[str, Any]) -> None:
        """Hand ``data`` to the worker, which starts drawing ``path``; ``wait`` for it. The grade
        does other work in between (it keeps the run's metrics)."""
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(pickle.dumps((str(path), data)))
            self._proc.stdin.flush()
        except BrokenPipeError:  # the worker died early: ``wait`` reports its last words
            pass

    def wait(self, path: Path, timeout_s: float = 120.0) -> Path:
        """Wait for the drawing ``send`` asked for; RuntimeError with the worker's last words."""
        try:
            _, err = self._proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.close()
            raise RuntimeError(f"the plot worker did not finish in {timeout_s:.0f} s") from None
        except BrokenPipeError:
            err = self._proc.stderr.read() if self._proc.stderr else b""
            self._proc.wait()
        if self._proc.returncode != 0:
            lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
            raise RuntimeError(lines[-1] if lines else f"the plot worker exited {self._proc.returncode}")
        return path

    def draw(self, path: Path, data: dict[str, Any], timeout_s: float = 120.0) -> Path:
        """``send`` then ``wait``: hand ``data`` to the worker and wait for ``path``."""
        self.send(path, data)
        return self.wait(path, timeout_s)

    def close(self) -> None:
        """Stop the worker if it is still waiting (a grade that ends without a plot)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stderr):
            if stream is not None:
                stream.close()


def main() -> None:
    from slolab.report import timeline

    figure = timeline.blank()
    # the grade is still running: make what the drawing will need until its data arrives
    timeline.warm(figure, stop=lambda: bool(select.select([sys.stdin], [], [], 0)[0]))
    try:
        path, data = pickle.load(sys.stdin.buffer)
    except EOFError:  # the grade ended without a plot (an error, or --no-plot after all)
        return
    timeline.draw(Path(path), data, figure)
    # the PNG is in place; skip the interpreter's teardown of matplotlib (about 70 ms) that the
    # grade would otherwise wait for
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
