"""Reports of a grade: the JSON document and its files, the terminal table, the timeline PNG."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from slolab.backends import base, fake
from slolab.load import requestlog
from slolab.report import jsonreport, promseries, table, timeline

STARTED = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def check(check_id: str, status: str, **more: Any) -> dict[str, Any]:
    row = {
        "id": check_id,
        "title": f"Check {check_id}",
        "status": status,
        "observed": None,
        "observed_text": "—",
        "expected": "≤ 2 s",
        "window": "steady [0 s, 300 s)",
        "window_start_s": 0,
        "window_end_s": 300,
        "evidence": [],
        "hint": None if status == "passed" else f"hint for {check_id}",
        "test": None,
    }
    return row | more


def log() -> requestlog.RequestLog:
    reqs = fake.steady(rate_rps=2, start_s=0, end_s=300, ttft_s=0.4, fail=lambda t: 100 <= t < 110)
    return requestlog.RequestLog(reqs, profile="steady", rate_rps=2.0, started_s=0, stopped_s=300)


def doc(checks: list[dict[str, Any]], **files: str | None) -> dict[str, Any]:
    return jsonreport.document(
        lab="demo", title="Demo", scenario="demo-scn", backend="sim", seed=3, started_at=STARTED,
        wall_s=1.23456, run_s=300.0, checks=checks, logs=[log()],
        events=[base.Event(100, "Grader", "llm", "RolloutRestart", "rollout restart"),
                base.Event(105, "Pod", "llm-a", "Unhealthy", "Readiness probe failed", "Warning")],
        files={"json": None, "junit": None, "timeline": None} | files,
    )  # fmt: skip


def test_document_fields() -> None:
    d = doc([check("a", "passed"), check("b", "failed", observed=3.1, observed_text="3.1 s")])
    assert (d["started_at"], d["wall_s"], d["score"], d["passed"]) == (
        "2025-03-04T05:06:07+00:00",
        1.235,
        "1/2",
        False,
    )
    assert d["loads"] == [
        {"profile": "steady", "requests": 600, "ok": 580, "failed": 20, "rate_rps": 2.0, "achieved_rps": 2.0,
         "started_s": 0, "stopped_s": 300}
    ]  # fmt: skip
    assert d["events"][1] == {"time_s": 105, "kind": "Pod", "name": "llm-a", "reason": "Unhealthy",
                              "message": "Readiness probe failed", "type": "Warning", "data": {}}  # fmt: skip
    assert doc([check("a", "passed")])["passed"] is True
    assert doc([])["passed"] is False, "a lab with no checks is never a pass"


def test_json_files_are_written_atomically_and_never_overwritten(tmp_path: Path) -> None:
    first = jsonreport.next_path(tmp_path / "reports", STARTED)
    assert first.name == "grade-20250304T050607Z.json"
    jsonreport.write(doc([check("a", "passed")]), first)
    second = jsonreport.next_path(tmp_path / "reports", STARTED)
    assert second.name == "grade-20250304T050607Z-2.json"
    jsonreport.write(doc([check("a", "failed")]), second)
    assert json.loads(first.read_text(encoding="utf-8"))["passed"] is True
    latest = json.loads((tmp_path / "reports" / "latest.json").read_text(encoding="utf-8"))
    assert latest == json.loads(second.read_text(encoding="utf-8")) and latest["passed"] is False
    assert {p.name for p in (tmp_path / "reports").iterdir()} == {first.name, second.name, "latest.json"}


def test_table_plain_text_off_a_terminal() -> None:
    rows = [
        check("a", "passed", observed=0.4, observed_text="0.4 s"),
        check("b", "failed", observed=37, observed_text="37 requests", expected="≤ 0 requests",
              evidence=["37 of 540 requests failed"]),
        check("c", "inconclusive", observed_text="no data", evidence=["no data — no data is never a pass"]),
        check("d", "error", evidence=["KeyError: 'x'"]),
        check("e", "not run", evidence=["no grader test judged this check"]),
    ]  # fmt: skip
    text = table.render(doc(rows, json="/nowhere/grade.json"), width=120, color=False)
    assert "\x1b[" not in text
    lines = text.splitlines()
    assert lines[0].split() == ["Check", "Result", "Observed", "Expected", "Window"]
    for mark, status in [
        ("✓", "passed"),
        ("✗", "failed"),
        ("?", "inconclusive"),
        ("!", "error"),
        ("–", "not run"),
    ]:
        assert any(f"{mark} {status}" in line for line in lines[:8]), status
    details = "\n".join(lines)
    assert (
        textwrap.dedent("""\
        ✗ Check b (failed)
          observed 37 requests, expected ≤ 0 requests, over steady [0 s, 300 s)
          37 of 540 requests failed
          Hint: hint for b
        """)
        in details + "\n"
    )
    assert (
        textwrap.dedent("""\
        ? Check c (inconclusive)
          observed no data, expected ≤ 2 s, over steady [0 s, 300 s)
          no data — no data is never a pass
          Not judged: there was too little to measure. A failure above is often why; fix it and grade again.
        """)
        in details + "\n"
    )
    assert "hint for c" not in details  # a failure's hint would guess at a cause
    assert "! Check d (error)\n  KeyError: 'x'\n" in details
    assert lines[-3:] == [
        "Grade: 1/5 checks passed.",
        "  json     /nowhere/grade.json",
        "Stuck? `make hint NAME=demo`",
    ]


def test_table_puts_the_window_under_the_title_on_a_narrow_terminal() -> None:
    text = table.render(doc([check("a", "passed", observed_text="0.4 s")]), width=80)
    lines = text.splitlines()
    assert lines[0].split() == ["Check", "/", "Window", "Result", "Observed", "Expected"]
    assert lines[2].split()[:4] == ["Check", "a", "✓", "passed"] and lines[3].strip() == "steady [0 s, 300 s)"
    assert max(len(line) for line in lines) <= 80


def test_table_next_steps_and_colour() -> None:
    passed = table.render(doc([check("a", "passed")]), color=True)
    assert "\x1b[" in passed and passed.rstrip().endswith("All SLOs met. Try another lab: `make list`.")
    errored = table.render(doc([check("a", "error", evidence=["boom"])]))
    assert errored.rstrip().endswith("Fix the error above, then grade again: `make grade NAME=demo`")


def test_buckets() -> None:
    starts, ok, failed = timeline.request_counts([log()], 300)
    assert (len(starts), ok[0], failed[0], ok[20], failed[20], ok[21]) == (60, 10, 0, 0, 10, 0)
    centres, q = timeline.ttft_quantiles_ms([log()], 300)
    assert (
        centres[0] == 5 and q[0.99][0] == pytest.approx(400) and q[0.5][10] != q[0.5][10]
    )  # NaN: all failed


def test_timeline_png(tmp_path: Path) -> None:
    d = doc([check("ttft_p99", "failed")])
    wanted = promseries.queries("lab-x", "llm")
    answers = {
        wanted[0].expr: [fake.PromSeries({}, [(0, 2), (100, 3), (120, 2)])],
        wanted[1].expr: [fake.PromSeries({}, [(0, 2), (100, 1), (110, 2)])],
        wanted[2].expr: [],
        wanted[3].expr: [fake.PromSeries({}, [(0, 0), (100, 7), (130, 0)])],
        wanted[4].expr: [],
        wanted[5].expr: [fake.PromSeries({}, [(30, 0.2), (100, 2.5), (150, 0.25)])],
    }
    prom = promseries.fetch(fake.FakeProm(fake.FakeClock(300), answers), wanted, 300)
    assert prom["notes"] == {}  # the queue panel has "waiting" though "running" gave no series
    out = timeline.plot(tmp_path / "r" / "timeline.png", d, prom=prom, logs=[log()],
                        slo_lines_ms={"p99 TTFT (≤ 2 s)": 2000.0})  # fmt: skip
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["timeline.png"]
    empty = timeline.plot(tmp_path / "empty.png", doc([]) | {"events": []}, prom=None, logs=[])
    assert empty.stat().st_size > 0


@pytest.mark.slow  # a fresh Python process imports matplotlib
def test_reports_never_import_pyplot(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        import slolab.grading.plugin, slolab.report.table, slolab.report.timeline
        assert "matplotlib" not in sys.modules, "matplotlib is imported only to draw"
        doc = {"lab": "x", "backend": "sim", "seed": 1, "score": "0/1", "run_s": 10, "events": []}
        slolab.report.timeline.plot(Path(sys.argv[1]), doc, prom=None, logs=[])
        assert "matplotlib.pyplot" not in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.png")], check=True, timeout=60)
