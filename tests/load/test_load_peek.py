"""Generator.peek and ProcessLoad.so_far on a request file the child is still writing: whole
lines only, each read once, times moved to the backend's clock (slolab.load.process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slolab import errors
from slolab.load import process, record
from slolab.run import request


def _line(i: int, arrival_s: float, status: int | None = 200) -> str:
    r = request.Request(i, arrival_s, 16, 8, scheduled_s=arrival_s)
    if status is not None:
        r.status, r.finish_s = status, arrival_s + 0.5
    return record.to_json(r) + "\n"


class Scenario:
    def __init__(self, **profiles) -> None:
        self.traffic = profiles

    def profile(self, name: str):
        return self.traffic[name]


def test_peek_reads_whole_lines_once(tmp_path: Path, traffic) -> None:
    gen = process.Generator("http://127.0.0.1:9", "ref", traffic(10.0), "s", workdir=tmp_path)
    assert gen.peek() == []  # no file yet
    whole, half = _line(0, 0.1), _line(1, 0.2, 503)
    gen.requests_file.write_text(whole + half[:20], encoding="utf-8")
    assert [r.id for r in gen.peek()] == [0]
    assert gen.peek() == []  # the half line waits for its end
    with gen.requests_file.open("a", encoding="utf-8") as fh:
        fh.write(half[20:] + _line(2, 0.3))
    got = gen.peek()
    assert [(r.id, r.status) for r in got] == [(1, 503), (2, 200)]


def test_so_far_is_on_the_backend_clock_and_cumulative(tmp_path: Path, traffic) -> None:
    spec = traffic(10.0)
    load = process.ProcessLoad("http://127.0.0.1:9", "ref", Scenario(p=spec), seed=1)
    gen = process.Generator("http://127.0.0.1:9", "ref", spec, "s", workdir=tmp_path)
    handle = process.ProcessLoadHandle("p", gen, started_s=40.0, id_base=10_000_000)
    gen.requests_file.write_text(_line(0, 0.1) + _line(1, 0.2, None), encoding="utf-8")
    first = load.so_far(handle)
    assert [(r.id, r.arrival_s, r.profile) for r in first] == [(10_000_000, 40.1, "p")]  # unfinished left out
    with gen.requests_file.open("a", encoding="utf-8") as fh:
        fh.write(_line(2, 0.3, 0))
    assert [(r.id, r.status) for r in load.so_far(handle)] == [(10_000_000, 200), (10_000_002, 0)]


def test_a_broken_line_names_the_file(tmp_path: Path, traffic) -> None:
    gen = process.Generator("http://127.0.0.1:9", "ref", traffic(10.0), "s", workdir=tmp_path)
    gen.requests_file.write_text("{not json}\n", encoding="utf-8")
    with pytest.raises(errors.BackendError, match=r"requests\.jsonl: not a request record"):
        gen.peek()
