"""The DaemonSet controller, the NVIDIA device plugin and generic containers on the simulator.

Docs: "DaemonSet" (kubernetes.io/docs/concepts/workloads/controllers/daemonset/: how daemon
pods are scheduled, the tolerations added automatically), "Device Plugins" and "Schedule GPUs"
(a node advertises nvidia.com/gpu once the vendor's device plugin runs on it), NVIDIA
k8s-device-plugin's README (its DaemonSet tolerates nvidia.com/gpu:NoSchedule so that it runs on
tainted GPU nodes).
"""

from __future__ import annotations

import pytest

from slolab import errors
from slolab.catalog import kindconfig, yamlfile
from slolab.catalog import scenario as scenario_mod
from slolab.run import timeline
from slolab.sim import cluster as cluster_mod
from slolab.sim import daemonset

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
GPU_NODE = "slolab-worker2"


def plugin(tolerations=(GPU_TOLERATION,)) -> yamlfile.Document:
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "nvidia-device-plugin-daemonset"},
        "spec": {
            "selector": {"matchLabels": {"name": "nvidia-device-plugin-ds"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"name": "nvidia-device-plugin-ds"}},
                "spec": {
                    "tolerations": list(tolerations),
                    "nodeSelector": {"nvidia.com/gpu.present": "true"},
                    "priorityClassName": "system-node-critical",
                    "containers": [
                        {
                            "name": "nvidia-device-plugin-ctr",
                            "image": "nvcr.io/nvidia/k8s-device-plugin:v0.20.0",
                        }
                    ],
                },
            },
        },
    }
    return yamlfile.Document(ds, "device-plugin.yaml", {})


def batch(command, tolerations=()) -> yamlfile.Document:
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "batch"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "batch"}},
            "template": {
                "metadata": {"labels": {"app": "batch"}},
                "spec": {
                    "tolerations": list(tolerations),
                    "containers": [
                        {
                            "name": "worker",
                            "image": "busybox:1.37",
                            "command": command,
                            "resources": {"requests": {"cpu": "1"}},
                        }
                    ],
                },
            },
        },
    }
    return yamlfile.Document(dep, "batch.yaml", {})


def start(docs, seed=1) -> cluster_mod.Cluster:
    scenario = scenario_mod.load("llama-8b-h100-gpupool")
    _, specs = kindconfig.load()
    sim = cluster_mod.Cluster(scenario, cluster_mod.build_nodes(scenario, specs), seed, "lab-test")
    sim.apply(docs)
    return sim


def gpus(sim) -> tuple[str | None, str | None]:
    node = next(n for n in sim.api_objects("Node") if n["metadata"]["name"] == GPU_NODE)
    return node["status"]["allocatable"].get("nvidia.com/gpu"), node["status"]["capacity"].get(
        "nvidia.com/gpu"
    )


def test_plugin_that_tolerates_the_taint_runs_and_the_node_advertises_its_gpus():
    sim = start([plugin()])
    assert gpus(sim) == (None, None), "no GPUs before the plugin registers them"
    sim.env.run(until=30)
    (pod,) = sim.pods.values()
    assert pod.node == GPU_NODE and pod.ready
    assert gpus(sim) == ("8", "8")
    (ds,) = sim.api_objects("DaemonSet")
    assert ds["status"]["desiredNumberScheduled"] == 1 and ds["status"]["numberReady"] == 1


def test_daemon_pods_get_upstreams_tolerations_and_node_affinity():
    sim = start([plugin()])
    sim.env.run(until=5)
    (pod,) = sim.pods.values()
    keys = {(t["key"], t["effect"]) for t in pod.spec["tolerations"]}
    assert {(t["key"], t["effect"]) for t in daemonset.AUTO_TOLERATIONS} <= keys
    terms = pod.spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [GPU_NODE]}]}]


def test_plugin_without_the_toleration_creates_no_pod_and_gpus_stay_unadvertised():
    # NodeShouldRunDaemonPod: an untolerated NoSchedule taint means no daemon pod, not a Pending one
    sim = start([plugin(tolerations=())])
    sim.env.run(until=30)
    assert sim.pods == {}
    assert gpus(sim) == (None, None)
    (ds,) = sim.api_objects("DaemonSet")
    assert ds["status"]["desiredNumberScheduled"] == 0


def test_gpus_become_unallocatable_when_the_plugin_pod_goes():
    sim = start([plugin()])
    sim.env.run(until=30)
    (pod,) = sim.pods.values()
    sim.delete_pod(pod, grace_period_s=0)
    sim.env.run(until=31)
    # the controller replaces it at once: registered again after the container starts
    sim.env.run(until=60)
    assert gpus(sim) == ("8", "8")
    ds = sim.get("apps/v1", "DaemonSet", "nvidia-device-plugin-daemonset")
    sim.store.delete(ds)
    sim.env.run(until=120)
    assert gpus(sim) == ("0", "8"), "capacity stays registered, allocatable drops (devicemanager)"


def test_no_execute_taint_removes_a_daemon_pod_that_does_not_tolerate_it():
    sim = start([plugin()])
    sim.env.run(until=30)
    node = sim.get("v1", "Node", GPU_NODE)
    node.taints.append({"key": "maintenance", "effect": "NoExecute"})
    sim.store.update(node)
    sim.env.run(until=90)
    assert sim.pods == {}
    deleted = [e for e in sim.recorder.events if e.reason == timeline.SUCCESSFUL_DELETE]
    assert deleted and deleted[0].kind == "DaemonSet"


def test_sleep_container_runs_exits_zero_and_restarts():
    sim = start([batch(["sleep", "60"])])
    sim.env.run(until=200)
    (pod,) = sim.pods.values()
    (c,) = pod.containers
    assert c.restart_count >= 1 and c.last_state["exitCode"] == 0 and c.last_state["reason"] == "Completed"
    assert pod.node == "slolab-worker", "without a toleration the only untainted worker is the CPU one"


def test_batch_with_the_gpu_toleration_lands_on_the_gpu_node():
    # a toleration allows, it does not attract: LeastAllocated prefers the emptier, bigger GPU node
    sim = start([batch(["sh", "-c", "sleep infinity"], tolerations=[GPU_TOLERATION])])
    sim.env.run(until=10)
    (pod,) = sim.pods.values()
    assert pod.node == GPU_NODE and pod.ready


def test_an_unmodelled_image_is_refused_naming_it():
    with pytest.raises(errors.NotModelledError, match=r"image 'busybox:1\.37' is not modelled"):
        start([batch(["python", "train.py"])])
