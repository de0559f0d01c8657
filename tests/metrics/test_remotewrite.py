"""Remote-write encoding: protobuf varints and fields, snappy literal blocks."""

from __future__ import annotations

import struct

from slolab.metrics import remotewrite
from slolab.promql import tsdb


def test_varints_as_protobuf_writes_them() -> None:
    assert remotewrite._varint(1) == b"\x01"
    assert remotewrite._varint(300) == b"\xac\x02"
    assert remotewrite._varint(-1) == b"\xff" * 9 + b"\x01"  # int64 -1: ten bytes


def test_snappy_block_of_literals() -> None:
    assert remotewrite.snappy_block(b"abc") == b"\x03" + bytes([2 << 2]) + b"abc"
    long = bytes(range(256)) * 2
    framed = remotewrite.snappy_block(long)
    assert framed[:2] == b"\x80\x04"  # 512 as a varint
    assert framed[2:5] == bytes([61 << 2]) + (511).to_bytes(2, "little")
    assert framed[5:] == long


def test_write_request_carries_labels_and_the_raw_stale_marker_bits() -> None:
    labels = tsdb.labels_of({"__name__": "x", "pod": "a"})
    body = remotewrite.write_request([(labels, [(1000, tsdb.STALE_NAN)])])
    assert body.startswith(b"\x0a")  # field 1 (timeseries), length-delimited
    assert b"\x0a\x08__name__\x12\x01x" in body
    assert struct.pack("<d", tsdb.STALE_NAN) in body
    assert body.endswith(b"\x10" + remotewrite._varint(1000))
