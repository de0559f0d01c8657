"""``make cluster``: slolab's kind cluster, its images and its platform, step by step.

1. ``kind create cluster --config kind-config.yaml`` (skipped when the cluster exists);
2. ``docker build`` of the operator image (operator/Dockerfile) and the model-server image
   (images/slolab-serve/Dockerfile); then, for every model version a scenario lists
   (scenario.yaml ``model.versions``: catalog/versionimages.py), an image ``slolab/serve:<tag>`` built from
   the model-server image with only that version's ``SLOLAB_SERVE_TTFT_FACTOR`` and
   ``SLOLAB_SERVE_ERROR_RATE`` (images/slolab-serve-version/Dockerfile, ``--build-arg``), so
   a pod's image tag picks its version's behaviour on kind as it does on the simulator; then
   ``kind load docker-image`` of them all
   (https://kind.sigs.k8s.io/docs/user/quick-start/#loading-an-image-into-your-cluster);
3. ``helm dependency build charts/slolab-platform`` (fetches the pinned KEDA, Prometheus,
   metrics-server, Argo Rollouts, Chaos Mesh and fake-gpu-operator charts) and ``helm upgrade
   --install`` of the platform, then of the operator, both with ``--wait``;
4. say what to run next.

Every step is idempotent, so after a failure the fix is to rerun ``make cluster``. Commands are
printed before they run and their output streams through, so long steps show their progress.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable

from rich.console import Console

from slolab import __version__, doctor, errors, paths, toolchain
from slolab.backends import choose
from slolab.catalog import versionimages

SYSTEM_NAMESPACE = "slolab-system"
OPERATOR_IMAGE = f"slolab/operator:{__version__}"
SERVE_IMAGE = f"slolab/serve:{__version__}"


def plan() -> list[tuple[str, list[str]]]:
    """The commands of ``make cluster`` after the cluster exists, in order: (what, argv)."""
    root = paths.root()
    helm = str(toolchain.helm_path())
    ctx = ["--kube-context", choose.KIND_CONTEXT]
    version_images = versionimages.version_images(SERVE_IMAGE)
    return [
        (
            "build the operator image",
            ["docker", "build", "-f", str(root / "operator/Dockerfile"), "-t", OPERATOR_IMAGE, str(root)],
        ),
        (
            "build the model-server image (slolab serve)",
            [
                "docker",
                "build",
                "-f",
                str(root / "images/slolab-serve/Dockerfile"),
                "-t",
                SERVE_IMAGE,
                str(root),
            ],
        ),
        *(
            (
                f"build the model-version image {v.image} (TTFT x{v.ttft_factor:g}, {v.error_rate:g} errors)",
                version_build(v),
            )
            for v in version_images
        ),
        (
            "load the images into the kind nodes",
            [
                "kind",
                "load",
                "docker-image",
                OPERATOR_IMAGE,
                SERVE_IMAGE,
                *(v.image for v in version_images),
                "--name",
                choose.KIND_CLUSTER,
            ],
        ),
        (
            "fetch the platform's pinned chart dependencies",
            [helm, "dependency", "build", str(root / "charts/slolab-platform")],
        ),
        (
            "install the platform (KEDA, Prometheus, metrics-server, Argo Rollouts, Chaos Mesh, fake GPUs)",
            [
                helm,
                "upgrade",
                "--install",
                "slolab-platform",
                str(root / "charts/slolab-platform"),
                "--namespace",
                SYSTEM_NAMESPACE,
                "--create-namespace",
                "--wait",
                "--timeout",
                "15m",
                *ctx,
            ],
        ),
        (
            "install the slolab operator",
            [
                helm,
                "upgrade",
                "--install",
                "slolab-operator",
                str(root / "charts/slolab-operator"),
                "--namespace",
                SYSTEM_NAMESPACE,
                "--create-namespace",
                "--set",
                f"image.tag={__version__}",
                # the lab Service on the node port kind-config.yaml publishes on 127.0.0.1
                "--set-json",
                'labValues={"service":{"type":"NodePort","nodePort":30080}}',
                # the scenarios' kind-only manifests (e.g. the GPU reservation of llama-8b-h100-autoscale)
                "--set",
                "kindManifests=true",
                "--wait",
                "--timeout",
                "5m",
                *ctx,
            ],
        ),
    ]


def version_build(v: versionimages.VersionImage) -> list[str]:
    """``docker build`` of one model-version image: the model-server image and two env vars."""
    folder = paths.root() / "images/slolab-serve-version"
    return [
        "docker",
        "build",
        "-f",
        str(folder / "Dockerfile"),
        "--build-arg",
        f"BASE={SERVE_IMAGE}",
        "--build-arg",
        f"TTFT_FACTOR={v.ttft_factor!r}",
        "--build-arg",
        f"ERROR_RATE={v.error_rate!r}",
        "-t",
        v.image,
        str(folder),
    ]


def create_cluster_step() -> tuple[str, list[str]] | None:
    """The ``kind create cluster`` step, or None when slolab's cluster exists already."""
    clusters = choose.kind_clusters() or []
    if choose.KIND_CLUSTER in clusters:
        return None
    return (
        "create the kind cluster (control-plane, cpu worker, tainted gpu worker)",
        [
            "kind",
            "create",
            "cluster",
            "--name",
            choose.KIND_CLUSTER,
            "--config",
            str(paths.kind_config()),
            "--wait",
            "180s",
        ],
    )


def run(console: Console, runner: Callable[[list[str]], int] | None = None) -> int:
    """Bring the cluster up; 0 on success. ``runner`` runs one argv (tests pass a fake)."""
    run_one = runner or subprocess.call
    missing = [c for c in doctor.tool_checks() if c.status == doctor.MISSING]
    if missing:
        for c in missing:
            console.print(f"✗ {c.name}: {c.detail}\n  {c.fix}")
        raise errors.ToolError(
            f"make cluster needs {', '.join(c.name for c in missing)}.", "Run `make doctor` for details."
        )
    steps = [s for s in [create_cluster_step()] if s] + plan()
    if len(steps) == len(plan()):
        console.print(f"✓ kind cluster {choose.KIND_CLUSTER!r} exists; keeping it.")
    started = time.monotonic()
    for n, (what, argv) in enumerate(steps, 1):
        console.print(f"[bold]→ [{n}/{len(steps)}] {what}[/bold]\n  $ {shlex.join(argv)}")
        t0 = time.monotonic()
        code = run_one(argv)
        if code != 0:
            console.print(f"✗ [{n}/{len(steps)}] {what}: exit {code} (output above).")
            console.print(
                "  Fix the cause and rerun `make cluster`; finished steps are skipped or idempotent."
            )
            return 1
        console.print(f"✓ [{n}/{len(steps)}] {what} ({time.monotonic() - t0:.0f} s)")
    console.print(
        f"✓ slolab's kind cluster is ready in {time.monotonic() - started:.0f} s "
        f"(context {choose.KIND_CONTEXT}).\n"
        "Next: `make lab NAME=readiness-probes BACKEND=kind`, then fix it with kubectl and "
        "`make grade NAME=readiness-probes BACKEND=kind`."
    )
    return 0
