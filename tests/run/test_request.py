"""The request record (slolab.run.request): plain token times, a producer's deferred form
expanded on read and kept once done, and the generator's JSON line format (slolab.load.record)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slolab import errors
from slolab.load import record
from slolab.run import request as request_mod


class StepRanges:
    """A producer like the engine's: token times as [start, end) ranges over shared step ends."""

    def __init__(self) -> None:
        self.step_ends: list[float] = []
        self.expanded = 0

    def expand(self, key: list[list[int]]) -> list[float]:
        self.expanded += 1
        return [t for start, end in key for t in self.step_ends[start:end]]


def test_plain_token_times_and_gaps() -> None:
    req = request_mod.Request(1, 10.0, 100, 3, first_token_s=10.5, token_times_s=[10.5, 10.6, 10.8])
    assert req.token_times_s == [10.5, 10.6, 10.8]
    assert req.inter_token_gaps_s() == pytest.approx([0.1, 0.2])
    assert req.ttft_s == 0.5 and req.e2e_s is None and not req.done


def test_a_record_without_tokens_gets_its_own_list_on_first_read() -> None:
    a, b = request_mod.Request(1, 0.0, 10, 2), request_mod.Request(2, 0.0, 10, 2)
    a.token_times_s.append(0.3)
    assert a.token_times_s == [0.3] and b.token_times_s == []


def test_fail_keeps_tokens_received_and_counts_them() -> None:
    req = request_mod.Request(1, 0.0, 10, 8)
    req.token_times_s.extend([0.2, 0.3])
    req.fail(0.4, "connection reset")
    assert (req.status, req.error, req.finish_s, req.output_tokens) == (0, "connection reset", 0.4, 2)
    req.fail(0.9, "again")  # the first outcome stays
    assert (req.error, req.finish_s) == ("connection reset", 0.4)


def test_deferred_token_times_follow_the_producer_until_done_then_stay() -> None:
    source = StepRanges()
    req = request_mod.Request(1, 0.0, 10, 4)
    segments = [[0, 1]]
    req.defer_token_times(source, segments)
    source.step_ends += [0.1, 0.2, 0.3]
    assert req.token_times_s == [0.1]
    segments[-1][1] = 3  # in flight: the producer adds tokens, the record sees them
    assert req.token_times_s == [0.1, 0.2, 0.3]
    req.status, req.output_tokens = 200, 3
    assert req.token_times_s == [0.1, 0.2, 0.3]
    calls = source.expanded
    segments.append([0, 1])  # after done the record keeps its plain list and asks no more
    assert req.token_times_s == [0.1, 0.2, 0.3] and source.expanded == calls


def test_fail_does_not_count_for_a_deferred_producer() -> None:
    source = StepRanges()
    req = request_mod.Request(1, 0.0, 10, 4)
    req.defer_token_times(source, [[0, 2]])
    source.step_ends += [0.1, 0.2]
    req.output_tokens = 1  # the producer counted what the client got (e.g. truncated at a deadline)
    req.fail(0.15, "client timeout")
    assert req.output_tokens == 1 and source.expanded == 0


def test_the_generator_line_round_trips_and_shifts_onto_the_backend_clock() -> None:
    req = request_mod.Request(
        3, 1.25, 100, 2, scheduled_s=1.2, status=200, first_token_s=1.5, finish_s=1.6, output_tokens=2
    )
    req.token_times_s = [1.5, 1.6]
    line = record.to_json(req)
    doc = json.loads(line)
    assert list(doc)[: len(record.FIELDS)] == list(record.FIELDS)
    assert (doc["ttft_s"], doc["e2e_s"]) == (0.25, 0.35)
    back = record.from_json(line)
    assert (back.id, back.scheduled_s, back.arrival_s, back.status, back.token_times_s) == (
        3,
        1.2,
        1.25,
        200,
        [1.5, 1.6],
    )
    on_clock = record.on_backend_clock(back, started_s=100.0, id_base=1000, profile="chat", timeout_s=30.0)
    assert (on_clock.id, on_clock.arrival_s, on_clock.scheduled_s, on_clock.first_token_s) == (
        1003,
        101.25,
        101.2,
        101.5,
    )
    assert on_clock.token_times_s == [101.5, 101.6] and on_clock.ttft_s == pytest.approx(0.25)
    assert (on_clock.profile, on_clock.timeout_s) == ("chat", 30.0)


def test_a_broken_line_names_the_file_and_line(tmp_path: Path) -> None:
    good = record.to_json(request_mod.Request(0, 0.0, 1, 1, scheduled_s=0.0))
    file = tmp_path / "requests.jsonl"
    file.write_text(good + "\n" + good.replace('"id"', '"idx"') + "\n")
    with pytest.raises(errors.BackendError, match=r"requests.jsonl:2: not a request record"):
        record.read(file)
