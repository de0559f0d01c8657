"""The vocabulary of a run, shared by every layer that produces or judges one.

Pure data and tables, below the simulator: the simulator (``slolab.sim``), the real-time server
(``slolab.serve``), the load generator (``slolab.load``), the kind/cluster backend, the operator
and the graders all import from here, and this package imports nothing of theirs.

- ``vllm_metrics``: the model server's Prometheus metrics (names, types, labels, buckets), one
  table for ``slolab serve``'s /metrics and the simulator's scrape.
- ``request``: the client-side request record (arrival, status, error, TTFT, finish, token
  counts and token times), the one type of every backend's request log.
- ``schedule``: the arrival schedule of an open-loop run (Poisson gaps and lengths), the same
  for the simulator's traffic and the real load generator.
- ``timeline``: the timeline event, its reasons as constants, and the recorder of events and
  step series; the simulator, ``slolab.kube.observe`` and the fake backend write it, graders
  and reports read it.
- ``chaos``: a scenario's chaos schedule (what is due, which pods it hits), run by the
  operator's game-day timer.

Layers (pyproject.toml [tool.importlinter]): everything above imports this package; it imports
only ``slolab.catalog`` and below, and no clock, socket, process or network module.
"""
