"""Compile the simulator's engine with mypyc; ``make setup`` runs ``python -m slolab.nativebuild``.

The build works on a copy of the package in a temporary folder, so the source tree only ever
gains the two extension modules: engine.py is written there as ``slolab/sim/_engine_native.py``
with the sha256 of engine.py appended (``SOURCE_SHA256``), mypyc compiles that one module, and
its extension modules are copied next to engine.py. ``slolab.sim.native`` loads them only while
that sha256 still matches engine.py.

Without a C compiler or mypyc the build is skipped with a message and exit status 0: the
simulator then runs engine.py, slower but with the same results. ``--require`` (and CI, through
``SLOLAB_REQUIRE_NATIVE=1``) makes that an error instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from slolab.sim import engine as python_engine
from slolab.sim import native

MODULE_FILE = "_engine_native.py"


def _compiler() -> str | None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) or shutil.which("cc") or shutil.which("gcc")


def _has_headers() -> bool:
    return (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file()


def _has_mypyc() -> bool:
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return False
    return True


def installed() -> list[Path]:
    """The extension modules of a build, next to engine.py."""
    return sorted(Path(python_engine.__file__).parent.glob("_engine_native*.so"))


def build() -> list[Path]:
    """Compile engine.py; returns the extension modules now next to it. Raises RuntimeError."""
    package = Path(python_engine.__file__).resolve().parents[1]  # src/slolab
    with tempfile.TemporaryDirectory(prefix="slolab-native-") as tmp:
        tree = Path(tmp) / "slolab"
        shutil.copytree(package, tree, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        source = Path(python_engine.__file__).read_text()
        target = tree / "sim" / MODULE_FILE
        target.write_text(
            f"{source}\n\n#: sha256 of the engine.py this module was compiled from (see sim/native.py)\n"
            f'SOURCE_SHA256 = "{native.source_sha256()}"\n'
        )
        cmd = [sys.executable, "-m", "mypyc", "--follow-imports=silent", f"slolab/sim/{MODULE_FILE}"]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"mypyc failed ({' '.join(cmd)}):\n{proc.stdout}{proc.stderr}")
        built = sorted((tree / "sim").glob("_engine_native*.so"))
        if not built:
            raise RuntimeError(f"mypyc wrote no extension module:\n{proc.stdout}{proc.stderr}")
        for old in installed():
            old.unlink()
        dest = Path(python_engine.__file__).parent
        for so in built:
            shutil.copy2(so, dest / so.name)
    return installed()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slolab.nativebuild", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--require",
        action="store_true",
        default=os.environ.get("SLOLAB_REQUIRE_NATIVE") == "1",
        help="fail when the engine cannot be compiled (default: SLOLAB_REQUIRE_NATIVE=1)",
    )
    args = parser.parse_args(argv)
    missing = []
    macos = sys.platform == "darwin"
    if _compiler() is None:
        missing.append(
            "a C compiler (" + ("xcode-select --install" if macos else "apt-get install gcc") + ")"
        )
    if not _has_headers():
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        how = (
            "a python.org or Homebrew Python ships them" if macos else f"apt-get install python{version}-dev"
        )
        missing.append(f"Python headers ({how})")
    if not _has_mypyc():
        missing.append("mypyc (pip install mypy; make setup installs it)")
    if missing:
        print(f"• Engine not compiled: no {' and no '.join(missing)}. The simulator runs engine.py,")
        print("  with the same results, about 2.5 times slower. Install them and run `make native`.")
        return 1 if args.require else 0
    print("• Compiling the simulator's engine with mypyc (about 15 s)…", flush=True)
    start = time.monotonic()
    try:
        built = build()
    except RuntimeError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        print("  The simulator runs engine.py meanwhile (same results, slower).", file=sys.stderr)
        return 1 if args.require else 0
    names = ", ".join(p.name for p in built)
    print(f"✓ Engine compiled in {time.monotonic() - start:.0f} s: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
