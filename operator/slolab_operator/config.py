"""The operator's settings, read once from the environment the chart's Deployment sets.

Every name is ``SLOLAB_OPERATOR_<FIELD>`` (upper case), e.g. ``SLOLAB_OPERATOR_IMAGE``; the
chart (charts/slolab-operator/templates/deployment.yaml) sets them from its values. Tests build
a :class:`Config` directly.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

PREFIX = "SLOLAB_OPERATOR_"


@dataclasses.dataclass(frozen=True)
class Config:
    """What the operator needs to know about where it runs."""

    #: helm 4 executable.
    helm: Path
    #: kubeconfig for the operator and helm; None in a pod (in-cluster service account).
    kubeconfig: Path | None = None
    #: Image of the grading Job: the operator image, which holds slolab, labs/ and charts/.
    image: str = "slolab/operator:0.1.0"
    image_pull_policy: str = "IfNotPresent"
    #: Where the operator runs and as whom (the lab RoleBinding's subject).
    operator_namespace: str = "slolab-system"
    operator_service_account: str = "slolab-operator"
    #: ClusterRoles the operator binds in each lab namespace (defined by the chart).
    lab_cluster_role: str = "slolab-operator-lab"
    grader_cluster_role: str = "slolab-operator-grader"
    #: ServiceAccount the grading Job runs as, created in each lab namespace.
    grader_service_account: str = "slolab-grader"
    #: helm --timeout for install and uninstall, seconds.
    helm_timeout_s: int = 300
    #: Let helm validate manifests against the API server's OpenAPI documents (off only for
    #: API servers without /openapi, such as the test emulator).
    helm_openapi_validation: bool = True
    #: How often a running grading Job is looked at, and its deadline, seconds.
    grade_poll_s: float = 10.0
    grade_deadline_s: int = 3600
    #: Interval of the game-day chaos timer, seconds.
    chaos_interval_s: float = 5.0
    #: Delay before retrying after a transient failure (API server, helm), seconds.
    retry_s: float = 15.0
    #: charts/llm-serving values layered over every lab's (JSON), for what the cluster needs:
    #: on kind, the lab's Service as NodePort 30080, which kind-config.yaml publishes on the laptop.
    lab_values: str = ""
    #: Apply each scenario's kind-only manifests (scenario.yaml topology.kind_manifests, e.g. a pod
    #: that holds fake GPUs) with its labs. On for kind (make cluster sets it); off elsewhere, where
    #: such a pod would hold real GPUs.
    kind_manifests: bool = False

    def lab_overlay(self) -> dict[str, object]:
        """``lab_values`` as a dict; ValueError names the setting when it is not a JSON object."""
        import json

        if not self.lab_values.strip():
            return {}
        try:
            data = json.loads(self.lab_values)
        except ValueError as exc:
            raise ValueError(f"{PREFIX}LAB_VALUES is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{PREFIX}LAB_VALUES must be a JSON object of chart values")
        return data

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Read ``SLOLAB_OPERATOR_*``; unset fields keep their defaults. ValueError names a bad one."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            key = PREFIX + field.name.upper()
            if key not in env or env[key] == "":
                continue
            raw = env[key]
            kind = field.type if isinstance(field.type, str) else field.type.__name__
            try:
                if kind.startswith("Path"):
                    values[field.name] = Path(raw)
                elif kind == "bool":
                    if raw.lower() not in ("true", "false", "1", "0"):
                        raise ValueError("expected true or false")
                    values[field.name] = raw.lower() in ("true", "1")
                elif kind == "int":
                    values[field.name] = int(raw)
                elif kind == "float":
                    values[field.name] = float(raw)
                else:
                    values[field.name] = raw
            except ValueError as exc:
                raise ValueError(f"{key}={raw!r}: {exc}") from None
        if "helm" not in values:
            values["helm"] = default_helm()
        if "kubeconfig" not in values and env.get("KUBECONFIG") and "KUBERNETES_SERVICE_HOST" not in env:
            values["kubeconfig"] = Path(env["KUBECONFIG"].split(os.pathsep)[0])
        return cls(**values)  # type: ignore[arg-type]


def default_helm() -> Path:
    """``.tools/bin/helm`` of the checkout when it is there, else helm on PATH."""
    from slolab import paths

    local = paths.tools_bin() / "helm"
    if local.is_file():
        return local
    found = shutil.which("helm")
    return Path(found) if found else Path("helm")
