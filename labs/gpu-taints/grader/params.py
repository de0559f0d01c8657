"""The gpu-taints grader's parameters, validated against lab.yaml's ``grading.params``.

The grader asks for them as the ``params`` fixture (see slolab.catalog.graderparams).
"""

from __future__ import annotations

import pydantic

from slolab.catalog import graderparams


class Params(graderparams.Params):
    """Watch the cluster place the workloads until a bound, then drive load while still watching."""

    profile: str = pydantic.Field(description="the scenario's traffic profile driven after the bound")
    ready_bound_s: float = pydantic.Field(
        gt=0, description="run seconds by which every replica must serve on a GPU node; the load starts then"
    )
    load_s: float = pydantic.Field(gt=0, description="how long the load runs after the bound")
    every_s: float = pydantic.Field(gt=0, description="seconds between looks at the cluster's pods")
    ttft_slo_s: float = pydantic.Field(gt=0, description="a request whose first token takes longer is slow")
    gpu_node_labels: dict[str, str] = pydantic.Field(
        description="labels that make a node a GPU node (NVIDIA's nvidia.com/gpu.present)"
    )
    min_requests: int = pydantic.Field(
        gt=0, description="fewest requests the load window needs before it is judged"
    )
