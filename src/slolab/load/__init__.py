"""Traffic: request logs and (on real backends) open-loop load generators."""
