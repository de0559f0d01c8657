"""A scenario's kind-only objects (``topology.kind_manifests``): the catalog checks them, the
operator applies them once per install before the lab's release, restores them on reset, and
deletes them with the Lab that holds them. The operator runs for real against the emulator; the
scenario is the GPU reservation of llama-8b-h100-autoscale put into a copy of llama-8b-h100
(the scenario of readiness-probes, a lab that runs on kind)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import kubernetes
import pytest
import yaml
from operator_support import create_lab, delete_lab, lab, patch_lab, wait_condition, wait_for
from rbac import access, allows, chart_rules

from slolab import errors, lint, paths
from slolab.catalog import k8svalidate, kindmanifests, yamlfile
from slolab.catalog import scenario as scenario_mod
from slolab_operator import LAB_LABEL, config

DEPLOYMENTS = "apps/v1/deployments"
RESERVATION = "/apis/apps/v1/namespaces/slolab-system/deployments"
SOURCE = paths.scenarios_dir() / "llama-8b-h100-autoscale" / "kind-gpu-reservation.yaml"


def _with_manifests(root: Path, files: list[str], scenario: str = "llama-8b-h100") -> Path:
    """Set ``topology.kind_manifests`` of a scenario in the copied catalog; its scenario.yaml."""
    file = root / "scenarios" / scenario / "scenario.yaml"
    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    doc["topology"]["kind_manifests"] = files
    file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    scenario_mod.load.cache_clear()
    return file


@pytest.fixture
def operator_config(operator_config: config.Config) -> config.Config:
    """The operator as make cluster installs it on kind: kind-only manifests on."""
    return dataclasses.replace(operator_config, kind_manifests=True)


@pytest.fixture
def reserving(catalog_root: Path) -> Path:
    """The copied llama-8b-h100 with the GPU reservation as its kind-only manifest."""
    shutil.copy(SOURCE, catalog_root / "scenarios" / "llama-8b-h100" / SOURCE.name)
    return _with_manifests(catalog_root, [SOURCE.name])


# -- the catalog ------------------------------------------------------------------------------


def test_the_autoscale_scenario_lists_its_gpu_reservation() -> None:
    scenario = scenario_mod.load("llama-8b-h100-autoscale")
    [manifest] = scenario.kind_manifests()
    assert (manifest.kind, manifest.namespace, manifest.name) == (
        "Deployment",
        "slolab-system",
        "gpu-reservation",
    )
    assert manifest.plural == "deployments"


@pytest.mark.parametrize(
    ("files", "content", "expected"),
    [
        (["../llama-8b-h100-autoscale/kind-gpu-reservation.yaml"], None, "is outside the scenario's folder"),
        (["absent.yaml"], None, "no file 'absent.yaml'"),
        (["extra.yaml"], {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}, "kind:"),
        (
            ["extra.yaml"],
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "lab-x"}},
            "metadata.namespace: must be 'slolab-system'",
        ),
    ],
    ids=["outside", "missing", "unsupported-kind", "lab-namespace"],
)
def test_bad_kind_manifests_name_file_field_and_line(
    catalog_root: Path, files: list[str], content: dict | None, expected: str
) -> None:
    folder = catalog_root / "scenarios" / "llama-8b-h100"
    if content is not None:
        (folder / "extra.yaml").write_text(yaml.safe_dump(content), encoding="utf-8")
    _with_manifests(catalog_root, files)
    with pytest.raises(errors.CatalogError) as info:
        scenario_mod.load("llama-8b-h100")
    text = str(info.value)
    assert expected in text, text
    assert "scenarios/llama-8b-h100/" in text
    if content is None:  # the problem is the entry itself: the field and its line in scenario.yaml
        assert "topology.kind_manifests[0]" in text and "scenario.yaml:" in text
    else:  # the problem is in the manifest: its file and line
        assert "extra.yaml:" in text


@pytest.mark.parametrize("name", scenario_mod.names())
def test_every_kind_manifest_is_strictly_valid(name: str) -> None:
    """What the operator would apply passes strict Kubernetes validation (kubernetes-validate)."""
    for manifest in scenario_mod.load(name).kind_manifests():
        problems = k8svalidate.validate(
            yamlfile.Document(manifest.data, manifest.file, {}), lint.KUBE_VERSION
        )
        assert not problems, "\n".join(map(str, problems))


def test_unsupported_kinds_are_refused_not_ignored() -> None:
    assert set(kindmanifests.KINDS) == {("apps/v1", "Deployment")}


# -- the operator -----------------------------------------------------------------------------


def _writes(emulator, path_prefix: str) -> list[tuple[int, str, str]]:
    return [
        (i, r.method, r.path)
        for i, r in enumerate(emulator.requests())
        if r.path.startswith(path_prefix) and r.method in ("POST", "PUT", "PATCH", "DELETE")
    ]


def test_applied_once_before_the_release_and_removed_at_cleanup(
    reserving: Path, emulator, operator, api
) -> None:
    with operator():
        create_lab(api, "ivan", lab="readiness-probes")
        wait_condition(emulator, "ivan", "Ready")
        held = emulator.get(DEPLOYMENTS, "slolab-system", "gpu-reservation")
        assert held is not None, "the GPU reservation was not applied"
        assert held["metadata"]["labels"][LAB_LABEL] == "ivan"
        wanted = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
        assert held["spec"] == wanted["spec"]
        requests = emulator.requests()
        applied = _writes(emulator, RESERVATION)
        assert [(m, p) for _, m, p in applied] == [("POST", RESERVATION)], applied
        helm_writes = [
            i
            for i, r in enumerate(requests)
            if r.user_agent.startswith("Helm") and r.method != "GET" and "/namespaces/lab-ivan/" in r.path
        ]
        assert helm_writes and applied[0][0] < min(helm_writes), "applied after the lab's release"
        assert all(
            r.user_agent.startswith("slolab-operator") for r in requests if r.path.startswith(RESERVATION)
        )

        delete_lab(api, "ivan")
        wait_for("the Lab to be gone", lambda: lab(emulator, "ivan") is None)
    assert emulator.get(DEPLOYMENTS, "slolab-system", "gpu-reservation") is None
    assert [m for _, m, _ in _writes(emulator, RESERVATION)] == ["POST", "DELETE"]


def test_off_the_kind_cluster_nothing_is_applied(
    reserving: Path, emulator, operator_config: config.Config, api
) -> None:
    """An operator installed without kindManifests (a real cluster) holds no GPUs of its own."""
    from operator_support import Operator

    with Operator(dataclasses.replace(operator_config, kind_manifests=False)):
        create_lab(api, "mike", lab="readiness-probes")
        wait_condition(emulator, "mike", "Ready")
        delete_lab(api, "mike")
        wait_for("the Lab to be gone", lambda: lab(emulator, "mike") is None)
    assert not [r for r in emulator.requests() if r.path.startswith(RESERVATION)]


def test_reset_restores_it_and_another_labs_cleanup_leaves_it(
    reserving: Path, emulator, operator, api
) -> None:
    apps = kubernetes.client.AppsV1Api(api)
    with operator():
        create_lab(api, "judy", lab="readiness-probes")
        wait_condition(emulator, "judy", "Ready")
        # Someone scales the reservation away, freeing the GPUs; a reset puts it back.
        apps.patch_namespaced_deployment(  # raw: the typed model refuses `nvidia.com/gpu: 4`
            "gpu-reservation", "slolab-system", {"spec": {"replicas": 0}}, _preload_content=False
        )
        patch_lab(api, "judy", {"resetGeneration": 1})
        wait_for(
            "the reset",
            lambda: lab(emulator, "judy")["status"].get("observedResetGeneration") == 1,
        )
        assert emulator.get(DEPLOYMENTS, "slolab-system", "gpu-reservation")["spec"]["replicas"] == 1
        assert [m for _, m, _ in _writes(emulator, RESERVATION)][-1] == "PUT"

        # A second Lab of the scenario takes the object over; deleting the first leaves it.
        create_lab(api, "kim", lab="readiness-probes")
        wait_condition(emulator, "kim", "Ready")
        assert (
            emulator.get(DEPLOYMENTS, "slolab-system", "gpu-reservation")["metadata"]["labels"][LAB_LABEL]
            == "kim"
        )
        delete_lab(api, "judy")
        wait_for("Lab judy to be gone", lambda: lab(emulator, "judy") is None)
        assert emulator.get(DEPLOYMENTS, "slolab-system", "gpu-reservation") is not None
        delete_lab(api, "kim")
        wait_for("Lab kim to be gone", lambda: lab(emulator, "kim") is None)
    assert emulator.get(DEPLOYMENTS, "slolab-system", "gpu-reservation") is None


def test_chart_rbac_covers_the_kind_only_objects(
    reserving: Path, emulator, operator, api, helm: Path
) -> None:
    """Every request the operator made about them is allowed by the Role of charts/slolab-operator."""
    with operator():
        create_lab(api, "lena", lab="readiness-probes")
        wait_condition(emulator, "lena", "Ready")
        patch_lab(api, "lena", {"resetGeneration": 1})
        wait_for("the reset", lambda: lab(emulator, "lena")["status"].get("observedResetGeneration") == 1)
        delete_lab(api, "lena")
        wait_for("the Lab to be gone", lambda: lab(emulator, "lena") is None)
    rules = chart_rules(helm, "kindManifests=true")["Role", "slolab-operator-kind-manifests"]
    wanted = [
        access(r.method, r.path, r.params) for r in emulator.requests() if r.path.startswith(RESERVATION)
    ]
    assert {w.verb for w in wanted if w} >= {"create", "update", "get", "delete"}
    denied = [str(w) for w in wanted if w and not (w.namespace == "slolab-system" and allows(rules, w))]
    assert not denied, denied
