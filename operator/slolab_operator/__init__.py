"""slolab's Kubernetes operator: the ``Lab`` custom resource (``slolab.dev/v1alpha1``), on kopf.

Run it with ``kopf run -m slolab_operator.main --all-namespaces`` or ``python -m slolab_operator``
(the chart charts/slolab-operator does). The CRD is ``charts/slolab-operator/crds/labs.slolab.dev.yaml``,
the only copy: the operator validates specs against its schema too (:mod:`slolab_operator.crd`).

What a Lab does
---------------
A Lab named ``<name>`` runs lab ``spec.lab`` in namespace ``lab-<name>``:

1. **Namespace** ``lab-<name>``, labelled as the operator's; a namespace of that name that the
   operator did not create is never touched (condition ``Ready=False``, reason ``NamespaceConflict``).
   In it go the grader's ServiceAccount and two RoleBindings that give the operator and the
   grader their rights there and nowhere else (see the chart's RBAC).
2. **Helm releases.** The lab's starting state is one Helm release, ``llm``: the scenario's chart
   (``charts/llm-serving``) with the scenario's values and the lab's fault values layered on top,
   exactly what ``slolab lab`` renders into a workspace on the simulator
   (:mod:`slolab.workspace.variants`). The scenario and the fault go in as *one* first revision on
   purpose: installing the healthy scenario first and the fault as an upgrade would leave a
   healthy revision that ``helm rollback llm 1`` restores, fixing the lab without understanding
   it. Every revision the operator ever makes holds the fault, so a rollback only rolls back
   the learner's own upgrades. (Installing the fault as a second release is not possible:
   two releases cannot own the same Deployment.)

   The two conditions still say two different things. ``Installed`` is about the release:
   deployed, which chart, which revision. ``FaultInjected`` is about its content: the operator
   reads the release's values back (``helm get values``) and checks that they are the scenario's
   plus the fault's for the current ``spec.resetGeneration``.
3. **Reset.** Raising ``spec.resetGeneration`` uninstalls the release and installs it again
   (a fresh revision 1): a ``helm upgrade`` would merge into what the learner changed and keep
   fields they added; a re-install restores the starting state exactly.
4. **Status.** Conditions ``Installed``, ``FaultInjected``, ``Ready`` and ``Graded`` (each with a
   reason and a message that says what to run next), the briefing, ``startedAt`` and
   ``deadline`` (startedAt + time limit; a reset does not move them).
5. **Grading.** Raising ``spec.gradeRequest`` starts Job ``grade-<n>`` in the lab's namespace:
   the operator image runs ``slolab grade <lab> --backend cluster --in-cluster --namespace
   lab-<name> --summary-file /dev/termination-log``. When the Job finishes, its pod's
   termination message (compact JSON) becomes ``status.grade`` and condition ``Graded``.
6. **Game day.** With ``spec.gameDay``, a kopf timer runs ``slolab gameday``'s schedule until
   the deadline: it creates Chaos Mesh objects (the pod-kill Schedule, the NetworkChaos delay, the
   scenario's ``chaos:`` steps) and drives a drain and a node loss itself, recording each step in
   ``status.gameDay``.
7. **Delete** goes through finalizer ``slolab.dev/cleanup``: uninstall the release, delete the
   namespace, wait until it is gone.

Idempotency and restarts
------------------------
Every step looks before it acts, so a handler run twice, or re-run by a new operator process
after the old one died half-way, converges on the same state:

- namespace, ServiceAccount, RoleBindings and grading Jobs are created only when absent
  (409 Conflict counts as done);
- each revision the operator installs carries a marker in its Helm description
  (``slolab lab=<lab> reset=<generation> values=<digest>``). A deployed release whose marker
  matches the wanted one is adopted as it is, not installed again (an operator that died
  after ``helm install`` returned but before it wrote the status); a release left
  ``pending-install``/``pending-upgrade`` or ``failed`` by a dead helm, or with an older
  marker, is uninstalled and installed afresh;
- once ``status.observedResetGeneration`` equals the spec's, the operator no longer touches
  the release, whatever the learner does to it (their fix must survive an operator restart);
- ``status.observedGradeRequest`` and the Job name ``grade-<n>`` make grading run once per request.

Errors the user can fix (unknown lab, invalid spec, a namespace conflict) end in
``kopf.PermanentError`` after writing a condition with the reason; the handler is not retried
until the spec changes, so a bad Lab never becomes a crash loop. Transient ones (API server,
helm talking to it) are ``kopf.TemporaryError`` with a delay.

Modules: :mod:`~slolab_operator.config` (settings from the environment),
:mod:`~slolab_operator.crd` (the CRD file and its schema), :mod:`~slolab_operator.spec`
(a Lab's spec and the catalog), :mod:`~slolab_operator.conditions`,
:mod:`~slolab_operator.releases` (Helm through pyhelm3), :mod:`~slolab_operator.kube`
(namespaces, RBAC, Jobs, pods), :mod:`~slolab_operator.grading`, :mod:`~slolab_operator.gameday`
(status.gameDay; the schedule itself is slolab.gameday.plan),
:mod:`~slolab_operator.handlers` (which kopf handler runs when), one module per lifecycle of
a Lab: :mod:`~slolab_operator.reconcile`, :mod:`~slolab_operator.grade`,
:mod:`~slolab_operator.cleanup`, :mod:`~slolab_operator.chaos` (and :mod:`~slolab_operator.deps`,
what they share), :mod:`~slolab_operator.main` (entry point).
"""

from __future__ import annotations

GROUP = "slolab.dev"
VERSION = "v1alpha1"
PLURAL = "labs"
KIND = "Lab"

#: Label on everything the operator creates; its value is the Lab's name.
LAB_LABEL = "slolab.dev/lab"
MANAGED_BY = {"app.kubernetes.io/managed-by": "slolab-operator"}
FINALIZER = "slolab.dev/cleanup"
#: Annotation prefix of kopf's own bookkeeping (handler progress, last-handled spec).
KOPF_PREFIX = "operator.slolab.dev"


def namespace_for(name: str) -> str:
    """The namespace of Lab ``name``."""
    return f"lab-{name}"
