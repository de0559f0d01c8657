"""The plot worker: draws in a child process, reports its errors, and never outlives the grade."""

from __future__ import annotations

from pathlib import Path

import pytest

from slolab.backends import fake
from slolab.report import plotworker, promseries, timeline

# each test starts a worker process that imports matplotlib (about a second each)
pytestmark = pytest.mark.slow


def _data() -> dict:
    doc = {"lab": "demo", "backend": "sim", "seed": 1, "score": "1/1", "run_s": 60.0, "events": []}
    wanted = promseries.queries("lab-demo", "llm")
    prom = fake.FakeProm(
        fake.FakeClock(60.0), {wanted[2].expr: [fake.PromSeries({}, [(0.0, 1.0), (30.0, 2.0)])]}
    )
    return timeline.prepare(doc, prom=promseries.fetch(prom, wanted, 60.0), logs=[])


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


def test_an_early_worker_is_the_one_the_plugin_takes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(plotworker, "_early", None)
    plotworker.start_early()
    early = plotworker._early
    assert early is not None
    try:
        assert plotworker.take() is early and plotworker._early is None
        assert early.draw(tmp_path / "t.png", _data()).is_file()
    finally:
        early.close()
    fresh = plotworker.take()  # none waiting: a new one
    fresh.close()
    assert fresh is not early


def test_a_worker_that_gets_no_data_exits_quietly() -> None:
    """An early worker whose grade stopped before the plot (bad input) sees EOF and leaves."""
    worker = plotworker.PlotWorker()
    assert worker._proc.stdin is not None and worker._proc.stderr is not None
    worker._proc.stdin.close()
    assert worker._proc.wait(60) == 0
    assert worker._proc.stderr.read() == b""
    worker._proc.stderr.close()


@pytest.mark.parametrize(
    ("argv", "plots"),
    [
        (["slolab", "grade", "readiness-probes"], True),
        (["slolab", "grade", "readiness-probes", "--backend", "sim", "--seed", "3"], True),
        (["slolab", "grade", "readiness-probes", "--no-plot"], False),
        (["slolab", "grade", "--help"], False),
        (["slolab", "lab", "readiness-probes"], False),
        (["slolab"], False),
    ],
)
def test_slolab_grade_starts_the_worker_only_when_it_will_plot(argv, plots) -> None:
    from slolab import cli

    assert cli._plots(argv) is plots


def test_a_warmed_figure_draws_the_same_png(tmp_path: Path) -> None:
    """``timeline.warm`` makes ahead what ``draw`` would make: the pixels do not change."""
    from PIL import Image, ImageChops

    cold, warm = tmp_path / "cold.png", tmp_path / "warm.png"
    timeline.draw(cold, _data(), timeline.blank())
    figure = timeline.blank()
    timeline.warm(figure)
    timeline.draw(warm, _data(), figure)
    with Image.open(cold) as a, Image.open(warm) as b:
        assert a.size == b.size
        assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def test_warm_stops_when_asked() -> None:
    asked = []

    def stop() -> bool:
        asked.append(True)
        return len(asked) > 2

    figure = timeline.blank()
    timeline.warm(figure, stop=stop)
    assert len(asked) == 3, "it looks before each axis and stops at the first yes"
    x_ticks = [len(ax.xaxis.majorTicks) for ax in figure[1]]
    assert x_ticks[0] == 12 and x_ticks[2] == 1, "the first panel's axes were done, the rest not"
