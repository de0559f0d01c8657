"""Push a TSDB's samples into a Prometheus through its remote-write receiver, staleness markers included.

Protocol: Prometheus remote write 1.0 (https://prometheus.io/docs/specs/remote_write_spec/): a
snappy-compressed protobuf ``WriteRequest`` POSTed to ``/api/v1/write`` of a Prometheus started
with ``--web.enable-remote-write-receiver`` (2.33+). Unlike an OpenMetrics backfill, a sample's
value travels as the raw float64, so Prometheus' staleness marker (StaleNaN) arrives as one and
the receiving TSDB treats it as a scraped one. The protobuf and the snappy framing are written
by hand (the messages are four small ones; snappy allows a block of literals only), so nothing
beyond ``requests`` is needed.

Samples go in ascending time order over all series, in batches: the receiving head accepts a
sample only when it is newer than the series' last one and not older than an hour before the
newest sample it holds, so the pushed data should span less than that per batch window.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import requests

from slolab import errors
from slolab.promql import tsdb


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 as its two's complement, as protobuf writes negative int64
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _sample(t_ms: int, value: float) -> bytes:
    return b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(t_ms)


def write_request(batch: Iterable[tuple[tsdb.Labels, list[tuple[int, float]]]]) -> bytes:
    """The protobuf WriteRequest of ``[(labels, [(t_ms, value), ...]), ...]``."""
    out = bytearray()
    for labels, samples in batch:
        body = b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode())) for k, v in labels)
        body += b"".join(_field(2, _sample(t, v)) for t, v in samples)
        out += _field(1, body)
    return bytes(out)


def snappy_block(data: bytes) -> bytes:
    """``data`` in the snappy block format, as literals only (valid, not compressed)."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), 65536):
        chunk = data[start : start + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + n.to_bytes(2, "little")
        out += chunk
    return bytes(out)


def push(url: str, db: tsdb.TSDB, batch_samples: int = 5000, timeout_s: float = 30.0) -> int:
    """Every sample of ``db`` into the Prometheus at ``url``; returns how many were sent."""
    flat = sorted(
        (
            (int(t), i, float(v))
            for i, s in enumerate(db.series())
            for t, v in zip(s.t_ms, s.values, strict=True)
        ),
        key=lambda x: (x[0], x[1]),
    )
    series = db.series()
    for start in range(0, len(flat), batch_samples):
        grouped: dict[int, list[tuple[int, float]]] = {}
        for t_ms, i, value in flat[start : start + batch_samples]:
            grouped.setdefault(i, []).append((t_ms, value))
        body = snappy_block(write_request((series[i].labels, samples) for i, samples in grouped.items()))
        try:
            resp = requests.post(
                f"{url.rstrip('/')}/api/v1/write",
                data=body,
                headers={
                    "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf",
                    "X-Prometheus-Remote-Write-Version": "0.1.0",
                },
                timeout=timeout_s,
            )
        except requests.RequestException as exc:
            raise errors.BackendError(
                f"Prometheus at {url} did not take the samples ({type(exc).__name__})."
            ) from None
        if resp.status_code >= 300:
            raise errors.BackendError(
                f"Prometheus at {url} refused remote write ({resp.status_code}): {resp.text.strip()}",
                "Start it with --web.enable-remote-write-receiver (LocalPrometheus(remote_write=True)).",
            )
    return len(flat)
