"""``slolab``'s exit once a command returned: nothing it wrote or registered is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_leave_runs_the_atexit_handlers_flushes_and_keeps_the_code(tmp_path: Path) -> None:
    mark = tmp_path / "atexit"
    proc = _run(
        "import atexit, sys\n"
        "from slolab import cli\n"
        f"atexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n"
        "sys.stdout.write('x' * 200_000)\n"
        "sys.stderr.write('said')\n"
        "cli._leave(3)\n"
    )
    assert proc.returncode == 3
    assert len(proc.stdout) == 200_000 and proc.stderr == "said"
    assert mark.read_text() == "ran"


def test_leave_waits_for_a_thread_still_working(tmp_path: Path) -> None:
    done = tmp_path / "done"
    proc = _run(
        "import threading, time\n"
        "from slolab import cli\n"
        f"threading.Thread(target=lambda: (time.sleep(0.3), open({str(done)!r}, 'w').write('ok'))).start()\n"
        "cli._leave(0)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert done.read_text() == "ok"


def test_leave_lets_a_profiler_write_its_results(tmp_path: Path) -> None:
    """``python -m cProfile -o FILE -m slolab.cli ...`` writes FILE after the program returns."""
    out = tmp_path / "list.prof"
    proc = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "slolab.cli", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
