"""Metrics on real backends: PromQL through prometheus-api-client, and a local Prometheus for tests."""
