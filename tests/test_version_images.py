"""`make cluster` builds one slolab/serve image per model version a scenario lists, and each plays
its version on kind as the simulator plays it: the build plan, without Docker.

Documented behaviour (scenario llama-8b-h100-canary, scenario.yaml model.versions): tags 0.1.0
(the running release), 0.2.0 (TTFT three times worse, 5% of requests failing with HTTP 500) and
0.2.1 (healthy); the canary-rollout lab's grader ships ``bad_image`` then ``good_image``
(labs/canary-rollout/lab.yaml grading.params), the chart runs images.slolabServe
(scenarios/llama-8b-h100-canary/values.yaml over charts/llm-serving/values.yaml).
"""

from __future__ import annotations

import pytest
import yaml
from test_images import instructions
from typer.testing import CliRunner

from slolab import cli, clusterup, errors, paths
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.catalog import versionimages
from slolab.serve import config as config_mod
from slolab.serve import server

CANARY = "llama-8b-h100-canary"
VERSION_DOCKERFILE = "images/slolab-serve-version/Dockerfile"
LOAD = scenario_mod.load  # the catalog's own, before a test replaces it


def version_builds() -> dict[str, dict[str, str]]:
    """image -> build args, for every model-version build in clusterup's plan."""
    builds = {}
    for _, argv in clusterup.plan():
        if argv[:2] == ["docker", "build"] and argv[3].endswith(VERSION_DOCKERFILE):
            args = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--build-arg")
            builds[argv[argv.index("-t") + 1]] = args
            assert argv[-1] == str(paths.root() / "images/slolab-serve-version")
    return builds


def test_the_plan_builds_one_image_per_canary_version_with_its_env():
    sc = scenario_mod.load(CANARY)
    builds = version_builds()
    base_tag = clusterup.SERVE_IMAGE.rsplit(":", 1)[1]
    expected = {f"slolab/serve:{tag}": v for tag, v in sc.model.versions.items() if tag != base_tag}
    assert set(expected) <= set(builds) and "slolab/serve:0.2.0" in builds
    for image, version in expected.items():
        args = builds[image]
        assert args["BASE"] == clusterup.SERVE_IMAGE
        assert float(args["TTFT_FACTOR"]) == version.ttft_factor
        assert float(args["ERROR_RATE"]) == version.error_rate
    assert (builds["slolab/serve:0.2.0"]["TTFT_FACTOR"], builds["slolab/serve:0.2.0"]["ERROR_RATE"]) == (
        "3.0",
        "0.05",
    )
    # the base image is the healthy running release 0.1.0 itself; it is not rebuilt
    assert base_tag in sc.model.versions and clusterup.SERVE_IMAGE not in builds
    # every image is loaded into the kind nodes
    [load] = [argv for _, argv in clusterup.plan() if argv[:3] == ["kind", "load", "docker-image"]]
    assert {clusterup.SERVE_IMAGE, *builds} <= set(load)


def test_the_dockerfile_sets_the_env_vars_slolab_serve_reads(monkeypatch):
    dockerfile = paths.root() / VERSION_DOCKERFILE
    steps = instructions(dockerfile)
    assert [w for w, _ in steps if w not in ("ARG",)] == ["FROM", "ENV"]
    assert steps[[w for w, _ in steps].index("FROM")][1] == "${BASE}"
    env = dict(kv.split("=", 1) for kv in steps[-1][1].split())
    assert env == {"SLOLAB_SERVE_TTFT_FACTOR": "${TTFT_FACTOR}", "SLOLAB_SERVE_ERROR_RATE": "${ERROR_RATE}"}
    # what the container's `slolab serve` then plays: the scenario's 0.2.0
    args = version_builds()["slolab/serve:0.2.0"]
    seen: list[config_mod.ServeConfig] = []
    monkeypatch.setattr(server, "run", lambda cfg: seen.append(cfg) or 0)
    monkeypatch.setattr(server, "configure_logging", lambda verbose=False: None)
    container_env = {
        "SLOLAB_SERVE_TTFT_FACTOR": args["TTFT_FACTOR"],
        "SLOLAB_SERVE_ERROR_RATE": args["ERROR_RATE"],
    }
    result = CliRunner().invoke(cli.app, ["serve"], env=container_env)
    assert result.exit_code == 0, result.output
    version = scenario_mod.load(CANARY).model.versions["0.2.0"]
    assert (seen[0].version.ttft_factor, seen[0].version.error_rate) == (
        version.ttft_factor,
        version.error_rate,
    )


def test_the_canary_labs_images_are_built_or_the_base():
    lab = lab_mod.load("canary-rollout")
    params = lab.grading.params
    values = yaml.safe_load((paths.root() / "scenarios" / CANARY / "values.yaml").read_text())
    chart = yaml.safe_load((paths.root() / "charts/llm-serving/values.yaml").read_text())
    repository = values["images"]["slolabServe"].get(
        "repository", chart["images"]["slolabServe"]["repository"]
    )
    running = f"{repository}:{values['images']['slolabServe']['tag']}"
    available = {clusterup.SERVE_IMAGE, *version_builds()}
    assert {running, params.bad_image, params.good_image} <= available


def _fake_catalog(monkeypatch, scenarios: dict[str, dict]) -> None:
    canary = LOAD(CANARY)
    loaded = {
        name: canary.model_copy(
            update={
                "name": name,
                "model": canary.model.model_copy(
                    update={"versions": {t: scenario_mod.ModelVersion(**v) for t, v in versions.items()}}
                ),
            }
        )
        for name, versions in scenarios.items()
    }
    monkeypatch.setattr(scenario_mod, "names", lambda: sorted(loaded))
    monkeypatch.setattr(scenario_mod, "load", lambda name: loaded[name])


def test_a_regressed_version_under_the_base_tag_is_an_error(monkeypatch):
    _fake_catalog(monkeypatch, {"a": {"0.1.0": {"error_rate": 0.1}}})
    base = r"model\.versions\.0\.1\.0: slolab/serve:0\.1\.0 is the base"
    with pytest.raises(errors.CatalogError, match=base):
        versionimages.version_images("slolab/serve:0.1.0")


def test_one_tag_with_two_behaviours_is_an_error_and_the_same_one_is_one_image(monkeypatch):
    _fake_catalog(monkeypatch, {"a": {"0.3.0": {"ttft_factor": 2}}, "b": {"0.3.0": {"ttft_factor": 2}}})
    assert versionimages.version_images("slolab/serve:0.1.0") == [
        versionimages.VersionImage("0.3.0", 2.0, 0.0)
    ]
    _fake_catalog(monkeypatch, {"a": {"0.3.0": {"ttft_factor": 2}}, "b": {"0.3.0": {"error_rate": 0.5}}})
    other = r"model\.versions\.0\.3\.0: slolab/serve:0\.3\.0 is listed by"
    with pytest.raises(errors.CatalogError, match=other):
        versionimages.version_images("slolab/serve:0.1.0")


def test_scenarios_without_versions_add_no_image(monkeypatch):
    _fake_catalog(monkeypatch, {})
    assert versionimages.version_images("slolab/serve:0.1.0") == []
