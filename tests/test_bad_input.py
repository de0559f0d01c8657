"""Bad input gives one clear error naming file and field, exit code 2, and no traceback."""

from __future__ import annotations

import pytest
from _support import run_cli

from slolab.catalog import lab as lab_mod
from slolab.workspace import variants

LAB = "readiness-probes"


@pytest.fixture
def workspace(tmp_path, helm):
    """A fresh copy of the lab's starting workspace under tmp_path/<lab>."""
    ws = tmp_path / LAB
    variants.write(variants.fault_files(lab_mod.load(LAB)), ws)
    return ws


def _grade(ws):
    return run_cli("grade", LAB, "--backend", "sim", "--no-plot", "--workspace", str(ws))


def _assert_clear(proc, *needles: str) -> None:
    out = proc.stderr + proc.stdout
    assert proc.returncode == 2, f"exit {proc.returncode}, expected 2:\n{out}"
    assert "Traceback" not in out, out
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out}"


def _edit(ws, old: str, new: str) -> None:
    file = ws / "deployment.yaml"
    text = file.read_text()
    assert old in text, old
    file.write_text(text.replace(old, new, 1))


def test_invalid_yaml(workspace):
    _edit(workspace, "  replicas: 3", "  replicas: [3")
    _assert_clear(_grade(workspace), "deployment.yaml:", "invalid YAML")


def test_unknown_field(workspace):
    _edit(workspace, "imagePullPolicy: IfNotPresent", "imagePulPolicy: IfNotPresent")
    _assert_clear(_grade(workspace), "deployment.yaml:", "imagePulPolicy", "spec.template.spec.containers[0]")


def test_wrong_type(workspace):
    _edit(workspace, "  replicas: 3", '  replicas: "three"')
    _assert_clear(_grade(workspace), "deployment.yaml:", "spec.replicas", "integer")


def test_missing_workspace(tmp_path):
    _assert_clear(_grade(tmp_path / LAB), LAB, "not found", "make lab")


def test_missing_required_field(workspace):
    _edit(workspace, "containerPort: 8000", "hostPort: 8000")
    _assert_clear(_grade(workspace), "deployment.yaml:", "containerPort")


def test_unknown_lab():
    proc = run_cli("grade", "no-such-lab", "--backend", "sim")
    _assert_clear(proc, "no-such-lab", LAB)


def test_unknown_lab_in_lab_command():
    _assert_clear(run_cli("lab", "keda-scalin"), "keda-scalin", "make list")


def test_field_the_simulator_does_not_model(workspace):
    _edit(
        workspace,
        "          livenessProbe:\n",
        "          livenessProbe:\n            exec: {command: [cat, /tmp/ok]}\n",
    )
    # exec probes are valid Kubernetes, but not modelled
    text = (
        (workspace / "deployment.yaml")
        .read_text()
        .replace(
            "            httpGet:\n              path: /health\n              port: http\n"
            "            initialDelaySeconds: 30",
            "            initialDelaySeconds: 30",
        )
    )
    (workspace / "deployment.yaml").write_text(text)
    _assert_clear(_grade(workspace), "deployment.yaml:", "livenessProbe.exec", "not modelled")


def test_unmodelled_flag(workspace):
    _edit(workspace, '- "--load-time-s=90"', '- "--load-time-s=90"\n            - "--speculative-config=x"')
    _assert_clear(_grade(workspace), "deployment.yaml:", "args[7]", "--speculative-config")


def test_every_problem_is_listed_at_once(workspace):
    _edit(workspace, "  replicas: 3", '  replicas: "three"')
    _edit(workspace, "imagePullPolicy: IfNotPresent", "imagePulPolicy: IfNotPresent")
    proc = _grade(workspace)
    _assert_clear(proc, "spec.replicas", "imagePulPolicy")


@pytest.mark.timeout(60)  # unbounded, the expansion below runs for minutes
def test_yaml_alias_bomb(workspace):
    """Nested anchors that would expand to 9**9 strings: one error naming file and line, at once."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    (workspace / "bomb.yaml").write_text("\n".join(lines) + "\n")
    proc = _grade(workspace)
    _assert_clear(proc, "bomb.yaml:4: invalid YAML: document contains excessive aliasing")


def test_container_port_out_of_range(workspace):
    _edit(workspace, "containerPort: 8000", "containerPort: 70000")
    _assert_clear(
        _grade(workspace),
        "deployment.yaml:",
        "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: "
        "must be between 1 and 65535, inclusive",
    )


def test_service_port_out_of_range(workspace):
    file = workspace / "service.yaml"
    text = file.read_text()
    assert "      port: 80\n" in text
    file.write_text(text.replace("      port: 80\n", "      port: 65536\n"))
    _assert_clear(
        _grade(workspace),
        "service.yaml:",
        "spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive",
    )


def test_object_in_another_namespace(workspace):
    _edit(workspace, "  namespace: lab-readiness-probes", "  namespace: x")
    proc = _grade(workspace)
    _assert_clear(
        proc,
        "deployment.yaml:",
        'metadata.namespace: the namespace from the provided object "x" does not match the namespace '
        "\"lab-readiness-probes\". You must pass '--namespace=x' to perform this operation.",
    )
    line = next(
        ln for ln in proc.stderr.splitlines() + proc.stdout.splitlines() if "metadata.namespace" in ln
    )
    number = int(line.split("deployment.yaml:")[1].split(":")[0])
    assert (workspace / "deployment.yaml").read_text().splitlines()[number - 1] == "  namespace: x"
