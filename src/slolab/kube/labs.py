"""The ``Lab`` resource (slolab.dev/v1alpha1, cluster-scoped) from the CLI's side.

``make lab NAME=x BACKEND=kind`` creates ``Lab x`` (or keeps the one that exists), then waits
while the operator installs it, printing each condition as it changes (Installed,
FaultInjected, Ready: type, status, reason, message), until Ready is True. A condition whose
reason the operator documents as permanent (an unknown lab, an invalid spec) ends the wait with
that message; so does the timeout, with the command to look further.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

from slolab import errors
from slolab.catalog import lab as lab_mod
from slolab.kube import client as client_mod

API_VERSION = "slolab.dev/v1alpha1"
#: Reasons the operator gives up on until the spec changes (operator/slolab_operator/spec.py, handlers.py).
PERMANENT = frozenset(
    {
        "UnknownLab",
        "InvalidSpec",
        "CatalogError",
        "UnsupportedLab",
        "NamespaceConflict",
        "InstallFailed",
        "ReleaseMissing",
        "FaultMismatch",
    }
)


def condition(lab: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in (lab.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def ensure(kube: client_mod.Kube, spec: lab_mod.Lab, seed: int | None = None) -> tuple[dict[str, Any], bool]:
    """The Lab named after ``spec`` (created when missing); (object, created)."""
    found = kube.get("Lab", spec.name)
    if found is not None:
        return found, False
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Lab",
        "metadata": {"name": spec.name},
        "spec": {"lab": spec.name},
    }
    if seed is not None:
        body["spec"]["seed"] = seed
    return kube.create(body), True


def wait_ready(
    kube: client_mod.Kube,
    name: str,
    *,
    timeout_s: float = 900.0,
    poll_s: float = 2.0,
    say: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll ``Lab name`` until Ready is True; print condition changes; BackendError otherwise."""
    started = clock()
    seen: dict[str, tuple[str, str, str]] = {}
    while True:
        lab = kube.get("Lab", name)
        if lab is None:
            raise errors.BackendError(f"Lab {name!r} disappeared while waiting for it ({kube.where})")
        for cond in (lab.get("status") or {}).get("conditions") or []:
            key = (cond.get("status", ""), cond.get("reason", ""), cond.get("message", ""))
            if seen.get(cond["type"]) != key:
                seen[cond["type"]] = key
                mark = {"True": "✓", "False": "✗"}.get(key[0], "…")
                say(f"  {mark} {cond['type']}: {key[1]}{' — ' + key[2] if key[2] else ''}")
            if cond.get("reason") in PERMANENT and cond.get("status") != "True":
                raise errors.BackendError(
                    f"the operator cannot start Lab {name!r}: {cond.get('reason')}: "
                    f"{cond.get('message', '')}",
                    f"Fix the spec (`kubectl edit lab {name}`) or delete it (`kubectl delete lab {name}`).",
                )
        ready = condition(lab, "Ready")
        if ready is not None and ready.get("status") == "True":
            return lab
        waited = clock() - started
        if waited >= timeout_s:
            raise errors.BackendError(
                f"Lab {name!r} is not Ready after {waited:.0f} s.",
                f"Look with `kubectl describe lab {name}` and `kubectl -n lab-{name} get pods,events`.",
            )
        sleep(poll_s)


def start(
    kube: client_mod.Kube, spec: lab_mod.Lab, *, seed: int | None = None, console: Console | None = None
) -> dict[str, Any]:
    """Create (or keep) the Lab and wait until the operator reports it Ready."""
    console = console or Console(highlight=False)
    lab, created = ensure(kube, spec, seed)
    verb = "created" if created else "exists; keeping it (restart it with `make reset`)"
    console.print(f"Lab {spec.name} {verb} on {kube.where}; waiting for the operator…")
    lab = wait_ready(kube, spec.name, say=console.print)
    status = lab.get("status") or {}
    if status.get("deadline"):
        console.print(f"  deadline {status['deadline']}")
    return lab


def request(kube: client_mod.Kube, name: str, field: str) -> int:
    """Raise ``spec.<field>`` (resetGeneration or gradeRequest) by one; the new value."""
    lab = kube.get("Lab", name)
    if lab is None:
        raise errors.BackendError(f"no Lab {name!r} on {kube.where}", f"Start it: `make lab NAME={name}`.")
    value = int((lab.get("spec") or {}).get(field, 0)) + 1
    kube.patch("Lab", name, {"spec": {field: value}})
    return value
