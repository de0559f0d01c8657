"""``make doctor``: what the kind path needs on this machine, what is missing, how to get it.

Each check runs a real client (``docker version``, ``kind version``, ``kubectl version
--client``, ``helm version``, GET /version on the kind context) and reports found / missing /
too old with the command that fixes it. The simulator needs none of this: ``make lab`` works
without Docker.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from slolab import errors, toolchain
from slolab.backends import choose

#: kind v0.32.0 is the release research/components.md §7 checked (node image v1.36.1).
KIND_MIN = (0, 32, 0)
OK, MISSING, OPTIONAL = "ok", "missing", "optional"


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | missing | optional (missing, not needed for the kind path)
    detail: str
    fix: str = ""


def _run(argv: list[str], timeout: float = 20.0) -> tuple[int, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"{' '.join(argv)} did not finish in {timeout:.0f} s"
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(x) for x in m.groups()) if m else None


def check_docker() -> Check:
    if shutil.which("docker") is None:
        return Check(
            "docker",
            MISSING,
            "docker is not on PATH",
            "Install Docker Engine: https://docs.docker.com/engine/install/ (Debian/Ubuntu: "
            "`sudo apt-get install docker.io`).",
        )
    code, out = _run(["docker", "version", "--format", "{{.Server.Version}}"])
    if code != 0:
        return Check(
            "docker",
            MISSING,
            f"the Docker daemon does not answer: {out.splitlines()[-1] if out else code}",
            "Start it (`sudo systemctl start docker`) and check `docker info`; your user may "
            "need the docker group.",
        )
    return Check("docker", OK, f"Docker Engine {out.strip()}")


def check_kind() -> Check:
    if shutil.which("kind") is None:
        return Check(
            "kind",
            MISSING,
            "kind is not on PATH",
            "Install kind v0.32+: `go install sigs.k8s.io/kind@v0.32.0` or the release binary, see "
            "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
        )
    code, out = _run(["kind", "version"])
    version = _version(out)
    if code != 0 or version is None:
        return Check("kind", MISSING, f"`kind version` failed: {out}", "Reinstall kind v0.32+.")
    if version < KIND_MIN:
        return Check(
            "kind",
            MISSING,
            f"kind {'.'.join(map(str, version))} is older than {'.'.join(map(str, KIND_MIN))}",
            "Upgrade kind to v0.32+ (kubeadm v1beta4 patches in kind-config.yaml need it).",
        )
    return Check("kind", OK, out.splitlines()[0])


def check_tool(name: str, path_of: Callable[[], object], argv: list[str]) -> Check:
    try:
        path = str(path_of())
    except errors.SlolabError as exc:
        return Check(name, MISSING, str(exc).splitlines()[0], "Run `make setup`.")
    code, out = _run([path, *argv])
    if code != 0:
        return Check(name, MISSING, f"{path} does not run: {out}", "Run `make clean setup`.")
    return Check(name, OK, f"{out.splitlines()[0]} ({path})")


def check_cluster() -> Check:
    clusters = choose.kind_clusters()
    if clusters is None:
        return Check("cluster", MISSING, "kind is not installed, so no kind cluster", "Install kind first.")
    if choose.KIND_CLUSTER not in clusters:
        return Check(
            "cluster",
            MISSING,
            f"no kind cluster named {choose.KIND_CLUSTER!r} (found: {', '.join(clusters) or 'none'})",
            "Run `make cluster`.",
        )
    trouble = choose.probe(choose.KIND_CONTEXT)
    if trouble:
        return Check(
            "cluster",
            MISSING,
            f"context {choose.KIND_CONTEXT} does not answer: {trouble}",
            f"Check `docker ps` for {choose.KIND_CLUSTER}-control-plane; recreate with "
            f"`kind delete cluster --name {choose.KIND_CLUSTER} && make cluster`.",
        )
    return Check("cluster", OK, f"{choose.KIND_CONTEXT} answers")


def check_prometheus() -> Check:
    path = shutil.which("prometheus")
    if path is None:
        return Check(
            "prometheus",
            OPTIONAL,
            "not installed (only the loopback end-to-end tests use a local Prometheus)",
            "`sudo apt-get install -y --no-install-recommends prometheus`",
        )
    code, out = _run([path, "--version"])
    return Check("prometheus", OK if code == 0 else OPTIONAL, out.splitlines()[0] if out else path)


def check_engine() -> Check:
    """The simulator's engine build (sim/native.py): compiled is faster, engine.py gives the same results."""
    from slolab.sim import native

    chosen = native.choice()
    if chosen.compiled:
        return Check("engine", OK, f"simulator engine {chosen.reason}")
    return Check(
        "engine",
        OPTIONAL,
        f"the simulator runs engine.py (same results, about 2.5 times slower): "
        f"compiled engine {chosen.reason}",
        "Install a C compiler (`sudo apt-get install -y gcc`), then `make native`.",
    )


def tool_checks() -> list[Check]:
    """The tools `make cluster` needs: docker, kind, kubectl, helm."""
    return [
        check_docker(),
        check_kind(),
        check_tool("kubectl", toolchain.kubectl_path, ["version", "--client=true"]),
        check_tool("helm", toolchain.helm_path, ["version", "--short"]),
    ]


def checks() -> list[Check]:
    return [*tool_checks(), check_cluster(), check_prometheus(), check_engine()]


def run(console: Console) -> int:
    """Print the checks; 0 when the kind path can be used, 1 otherwise."""
    found = checks()
    table = Table(title="slolab doctor: the kind path", title_justify="left")
    for col in ("check", "status", "detail", "how to fix"):
        table.add_column(col, overflow="fold")
    marks = {
        OK: "[green]✓ ok[/green]",
        MISSING: "[red]✗ missing[/red]",
        OPTIONAL: "[yellow]– optional[/yellow]",
    }
    for c in found:
        table.add_row(c.name, marks[c.status], c.detail, c.fix)
    console.print(table)
    missing = [c.name for c in found if c.status == MISSING]
    tools_missing = [m for m in missing if m != "cluster"]
    if not missing:
        console.print("Everything is there. Next: `make lab NAME=readiness-probes BACKEND=kind`.")
        return 0
    if tools_missing:
        console.print(
            f"Missing for the kind path: {', '.join(tools_missing)}. The simulator needs none of it: "
            "`make lab NAME=readiness-probes` works now."
        )
    else:
        console.print("The tools are there; the cluster is not. Next: `make cluster`.")
    return 1
