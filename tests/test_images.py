"""The images' build contexts: every COPY source is in the context Docker would send, as a
regular file or folder inside it, whatever ``make setup`` put in .tools (a symlink to a helm on
PATH included). Docker's own .dockerignore rules come from docker-py; no daemon is needed."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from docker.utils import build

from slolab import paths

DOCKERFILES = ["operator/Dockerfile", "images/slolab-serve/Dockerfile"]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def context_sources(dockerfile: Path) -> list[str]:
    """The sources of COPY/ADD instructions that read the build context (no --from)."""
    sources: list[str] = []
    for word, rest in instructions(dockerfile):
        if word not in {"COPY", "ADD"}:
            continue
        args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        flags = [a for a in args if a.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue
        operands = [a for a in args if not a.startswith("--")]
        sources.extend(operands[:-1])
    return sources


def context_files(root: Path) -> set[str]:
    ignore = root / ".dockerignore"
    patterns = [
        line.strip()
        for line in ignore.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return set(build.exclude_paths(str(root), patterns))


@pytest.fixture(scope="module")
def in_context() -> set[str]:
    return context_files(paths.root())


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_every_copy_source_is_a_regular_path_in_the_context(dockerfile: str, in_context: set[str]) -> None:
    root = paths.root()
    sources = context_sources(root / dockerfile)
    assert sources, f"{dockerfile}: no COPY from the build context found; the parser is wrong"
    for source in sources:
        rel = source.rstrip("/")
        target = root / rel
        assert target.exists(), f"{dockerfile}: COPY {source}: not in the repository"
        assert not target.is_symlink(), f"{dockerfile}: COPY {source}: a symlink Docker cannot follow"
        if target.is_dir():
            inside = [p for p in in_context if p == rel or p.startswith(rel + "/")]
            assert inside, f"{dockerfile}: COPY {source}: excluded by .dockerignore"
            for p in inside:
                real = (root / p).resolve()
                assert real.is_relative_to(root.resolve()), f"{dockerfile}: {p} points outside the context"
        else:
            assert rel in in_context, f"{dockerfile}: COPY {source}: excluded by .dockerignore"


def test_operator_image_fetches_its_own_helm_and_takes_nothing_from_tools(in_context: set[str]) -> None:
    root = paths.root()
    dockerfile = root / "operator/Dockerfile"
    assert not any(s.startswith(".tools") for s in context_sources(dockerfile))
    assert not any(p.startswith(".tools/") for p in in_context), ".tools must stay out of the context"
    runs = [rest for word, rest in instructions(dockerfile) if word == "RUN"]
    assert any("slolab.toolchain --helm-release /helm" in r for r in runs)
    copies = [rest for word, rest in instructions(dockerfile) if word == "COPY"]
    assert "--from=build /helm/helm /usr/local/bin/helm" in copies


def test_a_symlinked_helm_in_tools_does_not_reach_the_context(tmp_path: Path) -> None:
    """What `make setup` does when helm 4 is on PATH: .tools/bin/helm links outside the tree."""
    root = paths.root()
    (tmp_path / ".dockerignore").write_text((root / ".dockerignore").read_text())
    (tmp_path / ".tools" / "bin").mkdir(parents=True)
    (tmp_path / ".tools" / "bin" / "helm").symlink_to("/usr/bin/env")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.py").write_text("")
    files = context_files(tmp_path)
    assert "src/x.py" in files
    assert not any(p.startswith(".tools") for p in files)
