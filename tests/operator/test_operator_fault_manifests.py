"""A lab's plain fault manifests (lab.yaml ``fault.manifests``) on kind and cluster.

The catalog admits only the kinds the operator's RBAC allows, in the lab's namespace
(src/slolab/catalog/faultmanifests.py); the operator installs their objects inside the lab's
Helm release, as charts/llm-serving's ``extraObjects`` (slolab.workspace.variants.release_values),
so `helm uninstall` removes them and a reset (uninstall, install) restores them. The operator
runs for real against the emulator with gpu-taints, whose fault.manifests are the NVIDIA device
plugin DaemonSet (fault/device-plugin.yaml) and the CPU batch Deployment (fault/batch.yaml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from operator_support import create_lab, delete_lab, helm_release, lab, patch_lab, wait_condition, wait_for
from rbac import Access, access, allows, chart_rules

from slolab import errors, lint, paths
from slolab.catalog import faultmanifests, k8svalidate, yamlfile
from slolab.catalog import lab as lab_mod
from slolab.workspace import render, variants
from slolab_operator import spec

LAB = "gpu-taints"
DAEMONSETS, DEPLOYMENTS, SECRETS = "apps/v1/daemonsets", "apps/v1/deployments", "v1/secrets"
PLUGIN, BATCH = "nvidia-device-plugin-daemonset", "embeddings-batch"
RELEASE_SECRET = "sh.helm.release.v1.llm.v1"


def fault_file(name: str) -> dict[str, Any]:
    """One of gpu-taints' fault manifests, read straight from the lab's folder."""
    return yaml.safe_load((paths.labs_dir() / LAB / "fault" / name).read_text(encoding="utf-8"))


def release(emulator, namespace: str) -> dict[str, Any]:
    secret = emulator.get(SECRETS, namespace, RELEASE_SECRET)
    assert secret is not None, f"no release record {RELEASE_SECRET} in {namespace}"
    return helm_release(secret)


def helm_writes(emulator, namespace: str) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in emulator.requests()
        if r.user_agent.startswith("Helm") and r.method != "GET" and f"/namespaces/{namespace}/" in r.path
    ]


# -- the release holds them ---------------------------------------------------------------------


def test_released_on_create_restored_by_reset_removed_on_delete(emulator, operator, api, helm: Path) -> None:
    """One Lab's life (create, the learner's changes, reset, delete); then every request about it
    must be one that charts/slolab-operator's lab role allows in lab-<name> (or its cluster role)."""
    plugin, batch = fault_file("device-plugin.yaml"), fault_file("batch.yaml")
    apps = kubernetes.client.AppsV1Api(api)
    with operator():
        create_lab(api, "tess", lab=LAB)
        wait_condition(emulator, "tess", "Ready")

        # The release's values carry both manifests as extraObjects, beside the fault's values.
        record = release(emulator, "lab-tess")
        assert record["config"] == spec.parse("tess", {"lab": LAB}).values()
        assert record["config"]["extraObjects"] == [plugin, batch]
        assert record["config"]["tolerations"] is None  # the fault's values are there too
        # The rendered release holds them, in the lab's namespace, and the cluster got them.
        manifest = [d for d in yaml.safe_load_all(record["manifest"]) if d]
        kinds = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in manifest}
        assert {("DaemonSet", PLUGIN, "lab-tess"), ("Deployment", BATCH, "lab-tess")} <= kinds
        assert emulator.get(DAEMONSETS, "lab-tess", PLUGIN)["spec"] == plugin["spec"]
        assert emulator.get(DEPLOYMENTS, "lab-tess", BATCH)["spec"] == batch["spec"]

        # The learner fixes the device plugin and deletes the batch Deployment.
        toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        apps.patch_namespaced_daemon_set(
            PLUGIN, "lab-tess", {"spec": {"template": {"spec": {"tolerations": [toleration]}}}}
        )
        apps.delete_namespaced_deployment(BATCH, "lab-tess")
        assert emulator.get(DEPLOYMENTS, "lab-tess", BATCH) is None

        patch_lab(api, "tess", {"resetGeneration": 1})
        wait_for(
            "the reset",
            lambda: lab(emulator, "tess")["status"].get("observedResetGeneration") == 1,
        )
        wait_condition(emulator, "tess", "FaultInjected")

        # A reset re-installs the release: both objects are back as the fault wrote them.
        assert emulator.get(DAEMONSETS, "lab-tess", PLUGIN)["spec"] == plugin["spec"]
        assert emulator.get(DEPLOYMENTS, "lab-tess", BATCH)["spec"] == batch["spec"]
        assert "reset=1" in release(emulator, "lab-tess")["info"]["description"]

        delete_lab(api, "tess")
        wait_for("the Lab to be gone", lambda: lab(emulator, "tess") is None)

    # helm deleted them twice (the reset's uninstall, the delete's) and applied them after the first.
    writes = helm_writes(emulator, "lab-tess")
    for path in (
        f"/apis/apps/v1/namespaces/lab-tess/daemonsets/{PLUGIN}",
        f"/apis/apps/v1/namespaces/lab-tess/deployments/{BATCH}",
    ):
        deletes = [i for i, w in enumerate(writes) if w == ("DELETE", path)]
        assert len(deletes) == 2, (path, writes)
        assert ("PATCH", path) in writes[deletes[0] : deletes[1]], (path, writes)
    assert emulator.get(DAEMONSETS, "lab-tess", PLUGIN) is None
    assert emulator.get(DEPLOYMENTS, "lab-tess", BATCH) is None

    rules = chart_rules(helm)
    cluster, per_lab = rules["ClusterRole", "slolab-operator"], rules["ClusterRole", "slolab-operator-lab"]
    denied = []
    for r in emulator.requests():
        want = access(r.method, r.path, r.params)
        if want is None or not any(r.user_agent.startswith(a) for a in ("Helm", "slolab-operator")):
            continue
        if not (allows(cluster, want) or (want.namespace == "lab-tess" and allows(per_lab, want))):
            denied.append(str(want))
    assert not denied, "requests the chart's RBAC would refuse:\n" + "\n".join(sorted(set(denied)))


# -- what the catalog admits, the RBAC allows -------------------------------------------------------


def test_the_lab_role_allows_every_kind_the_catalog_admits(helm: Path) -> None:
    """helm 4 applies server-side: get, create, patch, and delete at uninstall."""
    per_lab = chart_rules(helm)["ClusterRole", "slolab-operator-lab"]
    assert set(faultmanifests.KINDS) == {("apps/v1", "DaemonSet"), ("apps/v1", "Deployment")}
    for (api_version, _), plural in faultmanifests.KINDS.items():
        group = api_version.rpartition("/")[0]
        for verb in ("get", "create", "patch", "delete"):
            assert allows(per_lab, Access(verb, group, plural, "lab-x", "x")), (verb, plural)


@pytest.mark.parametrize(
    "name", [n for n in lab_mod.names() if set(lab_mod.load(n).backends) & {"kind", "cluster"}]
)
def test_the_release_holds_what_the_workspace_holds(helm: Path, name: str, tmp_path: Path) -> None:
    """The objects the operator's release renders are the simulator's starting workspace (the
    manifests given the lab's namespace), pass strict Kubernetes validation, and are of kinds
    charts/slolab-operator's lab role lets helm apply and uninstall."""
    lab = lab_mod.load(name)
    namespace = f"lab-{name}"
    released = render.render(
        "llm-serving", [variants.release_values(lab)], release="llm", namespace=namespace, header=None
    )
    docs = []
    for f in released:
        (tmp_path / f.name).write_text(f.text, encoding="utf-8")
        docs += yamlfile.load_all(tmp_path / f.name, f.name)
    problems = [
        p for d in docs if not lint.is_custom_resource(d) for p in k8svalidate.validate(d, lint.KUBE_VERSION)
    ]
    assert not problems, "\n".join(map(str, problems))
    per_lab = chart_rules(helm)["ClusterRole", "slolab-operator-lab"]
    for d in docs:  # every kind of the chart's and the labs' is plural by an "s"
        group, plural = d.data["apiVersion"].rpartition("/")[0], d.data["kind"].lower() + "s"
        for verb in ("get", "create", "patch", "delete"):
            assert allows(per_lab, Access(verb, group, plural, namespace, "x")), (verb, group, plural)

    def key(obj: dict[str, Any]) -> tuple[str, str]:
        return obj["kind"], obj["metadata"]["name"]

    workspace = {}
    for text in variants.fault_files(lab).values():
        for obj in yaml.safe_load_all(text):
            if obj:
                obj["metadata"].setdefault("namespace", namespace)
                workspace[key(obj)] = obj
    assert {key(d.data): d.data for d in docs} == workspace


@pytest.fixture
def gpu_taints(catalog_root: Path) -> Path:
    """The copied gpu-taints' folder."""
    return catalog_root / "labs" / LAB


def _set_manifests(folder: Path, files: list[str]) -> None:
    file = folder / "lab.yaml"
    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    doc["fault"]["manifests"] = files
    file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "s"},
    "spec": {"ports": [{"port": 80}]},
}


@pytest.mark.parametrize(
    ("files", "content", "expected"),
    [
        (["../readiness-probes/lab.yaml"], None, "is outside the lab's folder"),
        (["fault/absent.yaml"], None, "no file 'fault/absent.yaml'"),
        (["fault/extra.yaml"], SERVICE, "kind: v1 Service cannot be a fault manifest"),
        (
            ["fault/extra.yaml"],
            {**fault_file("batch.yaml"), "metadata": {"name": "b", "namespace": "kube-system"}},
            "metadata.namespace must be left out or be 'lab-gpu-taints' (got 'kube-system')",
        ),
        (["fault/extra.yaml"], {**fault_file("batch.yaml"), "metadata": {}}, "metadata.name is required"),
        (["fault/batch.yaml", "solution/batch.yaml"], None, "becomes workspace file batch.yaml"),
    ],
    ids=["outside", "missing", "unsupported-kind", "other-namespace", "no-name", "same-file-name"],
)
def test_bad_fault_manifests_name_lab_yaml_and_the_field(
    gpu_taints: Path, files: list[str], content: dict | None, expected: str
) -> None:
    if content is not None:
        (gpu_taints / "fault" / "extra.yaml").write_text(yaml.safe_dump(content), encoding="utf-8")
    _set_manifests(gpu_taints, files)
    with pytest.raises(errors.CatalogError) as info:
        lab_mod.load(LAB)
    [problem] = info.value.problems
    assert problem.file == "labs/gpu-taints/lab.yaml" and problem.line is not None, problem
    assert problem.field == f"fault.manifests[{len(files) - 1}]", problem
    assert expected in problem.message, problem
    if content is not None:  # the document itself is wrong: its file and line are named too
        assert "labs/gpu-taints/fault/extra.yaml:" in problem.message, problem


def test_a_manifest_may_not_replace_a_file_the_chart_renders(gpu_taints: Path, helm: Path) -> None:
    """The workspace holds the chart's files and the manifests side by side, by file name."""
    (gpu_taints.parents[1] / ".tools").symlink_to(helm.parent.parent)  # helm of the checkout
    (gpu_taints / "fault" / "deployment.yaml").write_text(
        (gpu_taints / "fault" / "batch.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    _set_manifests(gpu_taints, ["fault/device-plugin.yaml", "fault/deployment.yaml"])
    variants._fault.cache_clear()
    try:
        with pytest.raises(errors.CatalogError) as info:
            variants.fault_files(lab_mod.load(LAB))
    finally:
        variants._fault.cache_clear()
    [problem] = info.value.problems
    assert (problem.file, problem.field) == ("labs/gpu-taints/lab.yaml", "fault.manifests[1]")
    assert "would replace the chart's deployment.yaml" in problem.message
