"""The game-day report (slolab.gameday.htmlreport): one self-contained HTML page, rendered by
headless Chromium (Debian's ``chromium``; .ci/run installs it) as a person would open it.

What it must show (issue 12 item 4; research §3.2): the annotated timeline (each injection
marked, replicas, error rate, p99 TTFT against the SLO line, the error budget burning down), the
run log table (time, action, observed, SLO held or not), the hypothesis and the verdict.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from gameday_support import run_record, solution_plan

from slolab.gameday import htmlreport, plan

pytestmark = pytest.mark.slow  # a game day on sim, then headless Chromium


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("gameday")
    return run_record(solution_plan(tmp, actions={plan.NODE_DOWN, plan.NODE_UP}))


@pytest.fixture(scope="module")
def page(data: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return htmlreport.write(data, tmp_path_factory.mktemp("report") / "a.html")


def test_the_page_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "an external asset"
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert re.search(r"url\(\s*['\"]?https?:", text) is None


def test_the_page_holds_the_timeline_log_and_verdict(data: dict, page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert text.count('class="panel"') == 4
    for title in ("Replicas", "Error rate", "p99 TTFT", "Error budget left"):
        assert f'data-panel="{title}' in text
    assert text.count('class="injection"') == len(data["injections"]) == 1
    assert text.count("<tr>") == 1 + len(data["log"])
    assert data["hypothesis"]["text"] in text
    assert "Hypothesis did not hold" in text


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run installs it in CI)"
        if os.environ.get("SLOLAB_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{message}; SLOLAB_REQUIRE_CHROMIUM=1 requires it", pytrace=False)
        pytest.skip(message)
    return found


def headless(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_chromium_renders_the_timeline_and_the_table(page: Path) -> None:
    dom = headless("--dump-dom", page.as_uri()).stdout
    assert '<svg id="timeline"' in dom
    assert 'class="injection"' in dom
    assert re.search(r'<table id="log">.*<td>T\+06:30</td><td>node-down</td>', dom, re.DOTALL)
    assert 'id="verdict"' in dom


def test_chromium_screenshot_is_not_blank(page: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    headless("--window-size=1050,1300", f"--screenshot={shot}", page.as_uri())
    image = Image.open(shot).convert("RGB")
    assert image.size == (1050, 1300)
    colours = image.getcolors(maxcolors=1 << 20) or []
    non_white = sum(n for n, rgb in colours if rgb != (255, 255, 255))
    assert len(colours) > 20, "a page of one or two colours: nothing was drawn"
    assert non_white > 0.02 * 1050 * 1300
    # the SLO lines are drawn in their orange (COLORS["slo"]) and the shaded windows out of SLO in red
    assert any(rgb == (0xE6, 0x7E, 0x22) for _, rgb in colours)
    assert any(rgb == (0xFA, 0xDB, 0xD8) for _, rgb in colours)
