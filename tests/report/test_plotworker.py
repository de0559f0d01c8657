"""The plot worker: draws in a child process, reports its errors, and never outlives the grade."""

from __future__ import annotations

from pathlib import Path

import pytest

from slolab.report import plotworker, timeline


def _data() -> dict:
    doc = {"lab": "demo", "backend": "sim", "seed": 1, "score": "1/1", "run_s": 60.0, "events": []}
    return timeline.prepare(doc, series={"pods": [(0.0, 1.0), (30.0, 2.0)]}, logs=[])


def test_worker_draws_the_png(tmp_path: Path) -> None:
    png = tmp_path / "timeline.png"
    worker = plotworker.PlotWorker()
    try:
        assert worker.draw(png, _data()) == png
    finally:
        worker.close()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_worker_errors_come_back(tmp_path: Path) -> None:
    worker = plotworker.PlotWorker()
    try:
        with pytest.raises(RuntimeError, match="KeyError"):
            worker.draw(tmp_path / "t.png", {"series": {}})
    finally:
        worker.close()


def test_unused_worker_is_stopped() -> None:
    worker = plotworker.PlotWorker()
    worker.close()
    assert worker._proc.returncode is not None
