"""The Kubernetes objects the operator manages besides Helm releases, with the official client.

Namespaces, the grader's ServiceAccount and RoleBindings, grading Jobs and pods, and a
scenario's kind-only objects (the kinds of slolab.catalog.kindmanifests.KINDS). The client
(kubernetes 3x, https://github.com/kubernetes-client/python) is synchronous; each call runs
in a worker thread so the operator's event loop keeps serving other Labs. Responses are read
as plain JSON dicts (``_preload_content=False``): the operator only needs a few fields, and
the typed models refuse objects with fields the client does not know.

Every ``ensure_*`` is idempotent: 409 Conflict means the object is already there.
The kubeconfig is passed explicitly: the client reads ``$KUBECONFIG`` when it is imported.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kopf
import kubernetes
import urllib3
from kubernetes.client.rest import ApiException

USER_AGENT = "slolab-operator"


class KubeError(Exception):
    """An API call failed. ``status`` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        # 403 is retried too: RBAC granted through a RoleBinding the operator just made can
        # take a moment to apply, and an admin may fix the chart's RBAC while we wait.
        return self.status in (0, 403, 409, 429) or self.status >= 500


def _json(response: Any) -> dict[str, Any]:
    data = response.data
    return json.loads(data) if data else {}


def _matches(obj: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    have = (obj.get("metadata") or {}).get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


class Kube:
    """Calls to one API server."""

    def __init__(self, api: kubernetes.client.ApiClient) -> None:
        self.api = api
        self.core = kubernetes.client.CoreV1Api(api)
        self.rbac = kubernetes.client.RbacAuthorizationV1Api(api)
        self.batch = kubernetes.client.BatchV1Api(api)

    @classmethod
    def from_config(cls, kubeconfig: Path | None) -> Kube:
        """From a kubeconfig file, or in-cluster (the pod's service account) when None."""
        configuration = kubernetes.client.Configuration()
        if kubeconfig is None:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        else:
            kubernetes.config.load_kube_config(
                config_file=str(kubeconfig), client_configuration=configuration
            )
        client = kubernetes.client.ApiClient(configuration)
        # Tells the operator's own calls apart from kopf's and helm's in audit logs.
        client.user_agent = USER_AGENT
        return cls(client)

    def connection_info(self, default_namespace: str | None = None) -> kopf.ConnectionInfo:
        """The same credentials for kopf's own API calls (as kopf.login_via_client reads them).

        ``default_namespace`` is where kopf posts the Events of cluster-scoped objects (Labs).
        """
        config = self.api.configuration
        header = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix(
            "authorization"
        )
        parts = header.split(" ", 1) if header else []
        scheme, token = (None, None) if not parts else (None, parts[0]) if len(parts) == 1 else parts
        return kopf.ConnectionInfo(
            server=config.host,
            ca_path=config.ssl_ca_cert,
            insecure=not config.verify_ssl,
            username=config.username or None,
            password=config.password or None,
            scheme=scheme,
            token=token,
            certificate_path=config.cert_file,
            private_key_path=config.key_file,
            default_namespace=default_namespace,
        )

    async def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, _preload_content=False, **kwargs)
        except ApiException as exc:
            raise KubeError(f"{what}: {exc.status} {exc.reason}: {_reason(exc)}", exc.status or 0) from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:  # the server was not reached
            raise KubeError(f"{what}: {exc}", 0) from None

    # -- namespaces ------------------------------------------------------------------------

    async def read_namespace(self, name: str) -> dict[str, Any] | None:
        try:
            return _json(await self._call(f"get namespace {name}", self.core.read_namespace, name))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def create_namespace(self, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels)}}
        return _json(await self._call(f"create namespace {name}", self.core.create_namespace, body))

    async def delete_namespace(self, name: str) -> None:
        try:
            await self._call(f"delete namespace {name}", self.core.delete_namespace, name)
        except KubeError as exc:
            if exc.status != 404:
                raise

    # -- RBAC for the lab's namespace --------------------------------------------------------

    async def ensure_service_account(self, namespace: str, name: str, labels: Mapping[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        }
        await self._create(
            f"create serviceaccount {namespace}/{name}",
            self.core.create_namespaced_service_account,
            namespace,
            body,
        )

    async def ensure_role_binding(
        self,
        namespace: str,
        name: str,
        cluster_role: str,
        subject: Mapping[str, str],
        labels: Mapping[str, str],
    ) -> None:
        body = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "ServiceAccount", **subject}],
        }
        await self._create(
            f"create rolebinding {namespace}/{name}",
            self.rbac.create_namespaced_role_binding,
            namespace,
            body,
        )

    async def _create(self, what: str, fn: Any, namespace: str, body: dict[str, Any]) -> bool:
        """True when created, False when it was already there."""
        try:
            await self._call(what, fn, namespace, body)
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    # -- a scenario's kind-only objects -------------------------------------------------------
    # Raw JSON requests: the typed clients validate bodies against their models, which refuse
    # what the API server accepts (an integer quantity such as ``nvidia.com/gpu: 4``).

    async def _raw(
        self,
        what: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        def call() -> Any:
            headers = {"Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = content_type
            method_, url, headers, data, _ = self.api.param_serialize(
                method=method,
                resource_path=path,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(method_, url, header_params=headers, body=data)
            response.read()
            return response

        try:
            response = await asyncio.to_thread(call)
        except (OSError, urllib3.exceptions.HTTPError) as exc:  # the server was not reached
            raise KubeError(f"{what}: {exc}", 0) from None
        if not 200 <= response.status < 300:
            exc = ApiException(status=response.status, reason=response.reason, body=response.data)
            raise KubeError(f"{what}: {response.status} {response.reason}: {_reason(exc)}", response.status)
        return response

    async def apply_object(self, path: str, body: dict[str, Any]) -> bool:
        """Create the object at collection ``path``, or replace it (unconditionally) with ``body``.

        True when created."""
        name = body["metadata"]["name"]
        try:
            await self._raw(f"create {path}/{name}", "POST", path, body)
        except KubeError as exc:
            if exc.status != 409:
                raise
            await self._raw(f"replace {path}/{name}", "PUT", f"{path}/{name}", body)
            return False
        return True

    async def read_object(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``, or None when it is not there."""
        try:
            return _json(await self._raw(f"get {path}", "GET", path))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def delete_object(self, path: str) -> None:
        """Delete the object at ``path``; one already gone counts as deleted."""
        try:
            await self._raw(f"delete {path}", "DELETE", path)
        except KubeError as exc:
            if exc.status != 404:
                raise

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386) of the object at ``path`` (a node's spec in a game day)."""
        return _json(
            await self._raw(f"patch {path}", "PATCH", path, body, content_type="application/merge-patch+json")
        )

    async def evict_pod(self, namespace: str, name: str) -> bool:
        """Ask the Eviction API (policy/v1) to evict a pod, as ``kubectl drain`` does. True when
        it was evicted or is gone, False when refused with 429 (a PodDisruptionBudget: retry)."""
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/eviction"
        try:
            await self._raw(f"evict pod {namespace}/{name}", "POST", path, body)
        except KubeError as exc:
            if exc.status == 404:
                return True
            if exc.status == 429:
                return False
            raise
        return True

    # -- grading Jobs and pods ---------------------------------------------------------------

    async def create_job(self, namespace: str, body: dict[str, Any]) -> bool:
        name = body["metadata"]["name"]
        return await self._create(
            f"create job {namespace}/{name}", self.batch.create_namespaced_job, namespace, body
        )

    async def read_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return _json(
                await self._call(
                    f"get job {namespace}/{name}", self.batch.read_namespaced_job, name, namespace
                )
            )
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def list_pods(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Pods in ``namespace`` with all of ``labels`` (the selector is also checked here)."""
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        items = _json(
            await self._call(
                f"list pods -n {namespace} -l {selector}",
                self.core.list_namespaced_pod,
                namespace,
                label_selector=selector,
            )
        ).get("items", [])
        return [p for p in items if _matches(p, labels)]


def _reason(exc: ApiException) -> str:
    try:
        return json.loads(exc.body).get("message") or str(exc.body)
    except (TypeError, ValueError):
        return str(exc.body or "")
