"""`make lab BACKEND=kind`'s side of the Lab resource, against an API emulator: create or keep
the Lab, follow its conditions until Ready, stop on a permanent reason or a timeout."""

from __future__ import annotations

import pytest

from slolab import errors
from slolab.catalog import lab as lab_mod
from slolab.kube import client, labs


@pytest.fixture
def kube(emulator) -> client.Kube:
    return client.connect("emu", timeout_s=5)


def set_conditions(kube: client.Kube, name: str, *conds: tuple[str, str, str]) -> None:
    body = {
        "status": {"conditions": [{"type": t, "status": s, "reason": r, "message": ""} for t, s, r in conds]}
    }
    kube.patch("Lab", name, body)


def test_ensure_creates_then_keeps(kube: client.Kube) -> None:
    spec = lab_mod.load("readiness-probes")
    lab, created = labs.ensure(kube, spec, seed=7)
    assert created and lab["spec"] == {"lab": "readiness-probes", "seed": 7}
    _, created = labs.ensure(kube, spec)
    assert not created
    assert labs.request(kube, "readiness-probes", "resetGeneration") == 1
    assert kube.get("Lab", "readiness-probes")["spec"]["resetGeneration"] == 1


def test_wait_ready_prints_each_change(kube: client.Kube) -> None:
    labs.ensure(kube, lab_mod.load("readiness-probes"))
    steps = iter(
        [
            [("Installed", "False", "Installing")],
            [("Installed", "True", "Deployed"), ("FaultInjected", "True", "FaultInjected")],
            [
                ("Installed", "True", "Deployed"),
                ("FaultInjected", "True", "FaultInjected"),
                ("Ready", "True", "LabReady"),
            ],
        ]
    )
    said: list[str] = []
    set_conditions(kube, "readiness-probes", *next(steps))
    lab = labs.wait_ready(
        kube,
        "readiness-probes",
        say=said.append,
        sleep=lambda _: set_conditions(kube, "readiness-probes", *next(steps)),
    )
    assert labs.condition(lab, "Ready")["status"] == "True"
    assert said == [
        "  ✗ Installed: Installing",
        "  ✓ Installed: Deployed",
        "  ✓ FaultInjected: FaultInjected",
        "  ✓ Ready: LabReady",
    ]


def test_wait_stops_on_a_permanent_reason_and_on_timeout(kube: client.Kube) -> None:
    labs.ensure(kube, lab_mod.load("readiness-probes"))
    set_conditions(kube, "readiness-probes", ("Ready", "False", "UnknownLab"))
    with pytest.raises(errors.BackendError, match="cannot start Lab 'readiness-probes': UnknownLab"):
        labs.wait_ready(kube, "readiness-probes", say=lambda _: None, sleep=lambda _: None)
    set_conditions(kube, "readiness-probes", ("Ready", "False", "Installing"))
    now = iter([0.0, 1000.0])
    with pytest.raises(errors.BackendError, match="not Ready after 1000 s"):
        labs.wait_ready(
            kube,
            "readiness-probes",
            timeout_s=900,
            say=lambda _: None,
            clock=lambda: next(now),
            sleep=lambda _: None,
        )
