"""The requests a model version fails: ``--error-rate`` of ``slolab serve``.

The simulator's semantics (sim/modelversion.py ``FailingEngine``): each request the server
accepts fails at once with probability ``error_rate``, before the engine takes it and before its
first token, with HTTP 500 Internal Server Error, and is counted as vLLM v1 counts a request that
ended in an engine error, ``vllm:request_success_total{finished_reason="error"}`` (vllm v0.33.0
vllm/v1/engine FinishReason.ERROR), and in no latency histogram. A request the server refuses as
bad input (HTTP 400) is not accepted, so it draws nothing. The draws come from their own seeded
generator (``--seed``), so a server with the same seed fails the same requests in the same order.
"""

from __future__ import annotations

import random

from slolab.serve import protocol
from slolab.sim import modelversion


class VersionFaults:
    """Draws, per accepted request, whether this model version fails it."""

    def __init__(self, error_rate: float, seed: int) -> None:
        self.error_rate = error_rate
        self._rng = random.Random(f"slolab-serve-errors-{seed}")

    def fails(self) -> bool:
        """True for a request this version fails (one draw per accepted request)."""
        return self.error_rate > 0 and self._rng.random() < self.error_rate

    @staticmethod
    def error() -> protocol.ApiError:
        """What the client gets: OpenAI's error JSON with status 500."""
        return protocol.ApiError(
            "request failed: the model version fails this request (slolab serve --error-rate)",
            modelversion.INTERNAL_ERROR,
            "InternalServerError",
        )
