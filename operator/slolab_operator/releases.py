"""Helm releases through pyhelm3 (0.5.8, https://pypi.org/project/pyhelm3/), helm 4.

:class:`Releases` is what the handlers need from Helm: the current revision of a release,
install (``helm upgrade --install``, no ``--wait``, no rollback on failure), its values, and
uninstall. :class:`HelmReleases` is the real one; tests may pass another.

Two pyhelm3 details shape this module:

- ``Client()`` runs ``helm version`` synchronously, so one client is made per operator, at
  startup, off the event loop;
- ``install_or_upgrade_release(disable_validation=True)`` passes the flag split into single
  characters (``command.extend("--disable-openapi-validation")``), so :class:`_Command`
  appends ``--disable-openapi-validation`` itself when validation is off.

Helm's own flags follow https://helm.sh/docs/helm/helm_upgrade/ (v4): the namespace is
created by the operator, not by ``--create-namespace``, because helm validates the Namespace
it creates against the server's OpenAPI document even when told not to validate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any, Protocol

import pyhelm3
from pyhelm3 import errors as helm_errors

log = logging.getLogger(__name__)

#: Release states a dead helm process leaves behind; nothing can proceed from them.
STUCK = frozenset({"pending-install", "pending-upgrade", "pending-rollback", "uninstalling"})


@dataclasses.dataclass(frozen=True)
class Revision:
    """One revision of a release, as ``helm status`` reports it."""

    name: str
    namespace: str
    revision: int
    status: str
    description: str
    chart: str

    @property
    def deployed(self) -> bool:
        return self.status == "deployed"


class ReleaseError(Exception):
    """helm failed. ``transient``: worth retrying as it is (API server unreachable, a conflict)."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Releases(Protocol):
    """The Helm operations the handlers use."""

    async def current(self, namespace: str, name: str) -> Revision | None:
        """The release's latest revision, or None when there is no release."""
        ...

    async def install(
        self, namespace: str, name: str, chart_dir: Path, values: dict[str, Any], description: str
    ) -> Revision:
        """``helm upgrade --install`` ``chart_dir`` with ``values``; the new revision."""
        ...

    async def values(self, namespace: str, name: str, revision: int) -> dict[str, Any]:
        """The user-supplied values of one revision (``helm get values``)."""
        ...

    async def uninstall(self, namespace: str, name: str) -> None:
        """``helm uninstall``; a release that is not there counts as uninstalled."""
        ...


class _Command(pyhelm3.Command):
    """pyhelm3's Command, with ``--disable-openapi-validation`` passed whole."""

    def __init__(self, *, openapi_validation: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._openapi_validation = openapi_validation

    async def run(self, command: list[Any], input: bytes | None = None) -> bytes:
        if not self._openapi_validation and command and command[0] in ("upgrade", "install"):
            command = [*command, "--disable-openapi-validation"]
        return await super().run(command, input)


def _revision(rev: pyhelm3.ReleaseRevision) -> Revision:
    metadata = rev.chart_metadata_
    chart = f"{metadata.name}-{metadata.version}" if metadata is not None else ""
    status = rev.status.value if hasattr(rev.status, "value") else str(rev.status)
    return Revision(
        name=rev.release.name,
        namespace=rev.release.namespace,
        revision=rev.revision,
        status=status,
        description=rev.description or "",
        chart=chart,
    )


def _message(exc: helm_errors.Error) -> str:
    text = exc.stderr.decode(errors="replace").strip() if isinstance(exc.stderr, bytes) else str(exc.stderr)
    return text.removeprefix("Error: ").split("\n\nUse --debug")[0] or f"helm exited with {exc.returncode}"


def _error(exc: helm_errors.Error, action: str) -> ReleaseError:
    message = f"helm {action} failed: {_message(exc)}"
    permanent = isinstance(
        exc,
        helm_errors.FailedToRenderChartError
        | helm_errors.InvalidResourceError
        | helm_errors.ChartNotFoundError,
    )
    return ReleaseError(message, transient=not permanent)


class HelmReleases:
    """:class:`Releases` with the helm binary through pyhelm3.

    ``kubeconfig`` None means helm's in-cluster configuration (the pod's service account).
    """

    def __init__(
        self,
        helm: Path,
        *,
        kubeconfig: Path | None = None,
        timeout_s: int = 300,
        openapi_validation: bool = True,
    ) -> None:
        # pyhelm3 logs every command and failure; the handlers report failures themselves.
        logging.getLogger("pyhelm3.command").setLevel(logging.ERROR)
        self._timeout = f"{timeout_s}s"
        self._command = _Command(
            openapi_validation=openapi_validation,
            executable=str(helm),
            kubeconfig=kubeconfig,
            default_timeout=self._timeout,
            # Helm's default. Every revision the operator makes holds the fault, so the history
            # only ever lets `helm rollback` undo the learner's own upgrades.
            history_max_revisions=10,
        )
        self._client = pyhelm3.Client(self._command, executable=str(helm))
        self._charts: dict[tuple[Path, int], pyhelm3.models.Chart] = {}
        self._lock = asyncio.Lock()

    async def _chart(self, chart_dir: Path) -> pyhelm3.models.Chart:
        key = (chart_dir, (chart_dir / "Chart.yaml").stat().st_mtime_ns)
        async with self._lock:
            if key not in self._charts:
                self._charts[key] = await self._client.get_chart(chart_dir)
        return self._charts[key]

    async def current(self, namespace: str, name: str) -> Revision | None:
        try:
            rev = await self._client.get_current_revision(name, namespace=namespace)
        except helm_errors.ReleaseNotFoundError:
            return None
        except helm_errors.Error as exc:
            raise _error(exc, f"status {name} -n {namespace}") from None
        return _revision(rev)

    async def install(
        self, namespace: str, name: str, chart_dir: Path, values: dict[str, Any], description: str
    ) -> Revision:
        try:
            chart = await self._chart(chart_dir)
            rev = await self._client.install_or_upgrade_release(
                name,
                chart,
                values,
                namespace=namespace,
                create_namespace=False,
                atomic=False,
                wait=False,
                description=description,
                timeout=self._timeout,
            )
        except helm_errors.Error as exc:
            raise _error(exc, f"upgrade --install {name} -n {namespace}") from None
        return _revision(rev)

    async def values(self, namespace: str, name: str, revision: int) -> dict[str, Any]:
        try:
            return await self._command.get_values(name, namespace=namespace, revision=revision)
        except helm_errors.Error as exc:
            raise _error(exc, f"get values {name} -n {namespace}") from None

    async def uninstall(self, namespace: str, name: str) -> None:
        try:
            await self._client.uninstall_release(name, namespace=namespace, wait=False, timeout=self._timeout)
        except helm_errors.Error as exc:
            raise _error(exc, f"uninstall {name} -n {namespace}") from None
