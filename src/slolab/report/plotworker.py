"""Draw the timeline in a second process that imports matplotlib while the grade still runs.

Importing matplotlib costs about 0.4 s, as much as a whole simulated grade. The grading plugin
starts this worker when the session begins; the worker imports and warms matplotlib on the
other core, then waits on stdin for ``timeline.prepare``'s data (pickled), draws the PNG and
exits. The grade process waits for it, so the PNG exists when ``slolab grade`` returns. If the
worker cannot start or fails, the caller draws in-process instead.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any


class PlotWorker:
    """One drawing, in a child process started ahead of time."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "slolab.report.plotworker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def draw(self, path: Path, data: dict[str, Any], timeout_s: float = 120.0) -> Path:
        """Hand ``data`` to the worker and wait for ``path``; RuntimeError with its last words."""
        try:
            _, err = self._proc.communicate(pickle.dumps((str(path), data)), timeout=timeout_s)
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

    timeline.warm()
    path, data = pickle.load(sys.stdin.buffer)
    timeline.draw(Path(path), data)


if __name__ == "__main__":
    main()
