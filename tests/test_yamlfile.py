"""YAML that would cost minutes or gigabytes is refused at once, with file and line (catalog.yamlfile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slolab import errors
from slolab.catalog import yamlfile


def billion_laughs(levels: int = 9) -> str:
    """Nine lists of nine aliases to the list before: 9**levels strings once expanded."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _load_error(tmp_path: Path, text: str, name: str = "x.yaml") -> errors.InputError:
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    with pytest.raises(errors.InputError) as info:
        yamlfile.load_all(file, name)
    return info.value


@pytest.mark.timeout(30)  # without the bound, the expansion runs for minutes
def test_an_alias_bomb_is_refused_with_file_and_line(tmp_path):
    err = _load_error(tmp_path, billion_laughs(), "bomb.yaml")
    (problem,) = err.problems
    assert problem.file == "bomb.yaml"
    assert "excessive aliasing" in problem.message
    # l0..l2 (lines 1-3) expand to about 930 nodes; l3 (line 4), using l2 nine times, crosses
    # the 1000 nodes past which go-yaml's rule applies
    assert problem.line == 4, str(problem)
    assert str(problem).startswith("bomb.yaml:4: invalid YAML: document contains excessive aliasing")


def test_a_few_aliases_and_merge_keys_still_load(tmp_path):
    """Ordinary reuse (a probe written once, merged into three containers) is not aliasing abuse."""
    text = "probe: &probe {httpGet: {path: /health, port: 8000}, periodSeconds: 5}\ncontainers:\n"
    text += "".join(
        f"  - name: c{i}\n    livenessProbe:\n      <<: *probe\n      timeoutSeconds: {i}\n" for i in range(3)
    )
    text += "copies: [" + ", ".join(["*probe"] * 200) + "]\n"
    file = tmp_path / "ok.yaml"
    file.write_text(text)
    (doc,) = yamlfile.load_all(file)
    assert doc.data["containers"][2]["livenessProbe"] == {
        "httpGet": {"path": "/health", "port": 8000},
        "periodSeconds": 5,
        "timeoutSeconds": 2,
    }
    assert len(doc.data["copies"]) == 200
    assert doc.line_of(("containers", 1, "livenessProbe", "timeoutSeconds")) == 10


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    (problem,) = _load_error(tmp_path, "a: 1\nb: &b [1, *b]\n").problems
    assert problem.line == 2 and "alias is used inside the node it names" in problem.message


def test_deep_nesting_is_refused(tmp_path):
    depth = yamlfile.MAX_DEPTH + 1
    (problem,) = _load_error(tmp_path, "x: " + "[" * depth + "]" * depth + "\n").problems
    assert f"deeper than {yamlfile.MAX_DEPTH} levels" in problem.message


def test_too_many_nodes_are_refused(tmp_path):
    """Under the byte limit, a flow list of single digits still holds more nodes than allowed."""
    n = yamlfile.MAX_NODES + 1
    text = "x: [" + ",".join(["1"] * n) + "]\n"
    assert len(text) <= yamlfile.MAX_FILE_BYTES
    (problem,) = _load_error(tmp_path, text).problems
    assert f"more than {yamlfile.MAX_NODES} nodes" in problem.message and problem.line == 1


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path):
    text = "# " + "x" * yamlfile.MAX_FILE_BYTES + "\nkind: ConfigMap\n"
    (problem,) = _load_error(tmp_path, text, "big.yaml").problems
    assert problem.file == "big.yaml" and f"at most {yamlfile.MAX_FILE_BYTES}" in problem.message
