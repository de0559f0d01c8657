"""What the Lab handlers share: the operator's dependencies and the mapping of failures to kopf.

Every handler gets one :class:`Deps` (config, Helm releases, API client), made at startup unless
a test passed its own. A failure of the API or of helm becomes ``kopf.TemporaryError`` (retried
after a delay, progress kept in the Lab's annotations) when it is transient and
``kopf.PermanentError`` otherwise: no handler sleeps.
"""

from __future__ import annotations

import dataclasses

import kopf

from slolab_operator import config as config_mod
from slolab_operator import kube, releases


@dataclasses.dataclass
class Deps:
    """What the handlers call; made at startup unless a test passed its own."""

    config: config_mod.Config
    releases: releases.Releases | None = None
    kube: kube.Kube | None = None

    def api(self) -> kube.Kube:
        if self.kube is None:
            self.kube = kube.Kube.from_config(self.config.kubeconfig)
        return self.kube

    def helm(self) -> releases.Releases:
        if self.releases is None:
            self.releases = releases.HelmReleases(
                self.config.helm,
                kubeconfig=self.config.kubeconfig,
                timeout_s=self.config.helm_timeout_s,
                openapi_validation=self.config.helm_openapi_validation,
            )
        return self.releases


def retry(
    exc: kube.KubeError | releases.ReleaseError, delay: float
) -> kopf.TemporaryError | kopf.PermanentError:
    """The kopf error for ``exc``: retried after ``delay`` s when transient, else permanent."""
    if exc.transient:
        return kopf.TemporaryError(f"{exc}; retrying in {delay:g} s", delay=delay)
    return kopf.PermanentError(str(exc))


def short(exc: Exception, limit: int = 600) -> str:
    """``exc`` as text of at most ``limit`` characters, for a condition's message."""
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 1] + "…"
