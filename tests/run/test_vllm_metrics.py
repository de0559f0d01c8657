"""The vLLM metric table against what `slolab serve` exposes and against vLLM's own buckets."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from slolab.run import vllm_metrics as vm
from slolab.serve import metrics as serve_metrics


def test_serve_exposes_every_metric_of_the_table_as_declared() -> None:
    body, _ = serve_metrics.Metrics("m", max_model_len=8192).render(None)
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for metric in vm.TABLE:
        # the 0.0.4 text parser strips _total from counter family names, as vLLM declares them
        family = families.get(metric.name)
        assert family is not None, f"{metric.name} missing from /metrics"
        assert family.type == metric.kind, metric.name
        assert family.documentation == metric.help
        if metric.kind == "histogram":
            bounds = sorted({float(s.labels["le"]) for s in family.samples if s.name.endswith("_bucket")})
            assert bounds == [*metric.bucket_bounds(8192), float("inf")], metric.name
        label_names = {k for s in family.samples for k in s.labels if k != "le"}
        assert label_names <= set(metric.labels), (metric.name, label_names)


def test_token_buckets_are_vllms_1_2_5_series() -> None:
    assert vm.build_1_2_5_buckets(8192) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    assert vm.REQUEST_PROMPT_TOKENS.bucket_bounds(100) == (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def test_sample_names() -> None:
    assert vm.REQUEST_SUCCESS.sample_name == "vllm:request_success_total"
    assert vm.NUM_REQUESTS_WAITING.sample_name == "vllm:num_requests_waiting"
    assert len({m.name for m in vm.TABLE}) == len(vm.TABLE)
