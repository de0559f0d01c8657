"""`python -m slolab.nativebuild` without what it needs: a message, and a failure only when required.

The build itself runs in `make setup` (CI requires it: SLOLAB_REQUIRE_NATIVE=1), and
tests/sim/test_native.py checks that what it built computes what engine.py computes."""

from __future__ import annotations

import pytest

from slolab import nativebuild


@pytest.mark.parametrize(("argv", "code"), [([], 0), (["--require"], 1)])
def test_no_compiler_is_said_and_only_fails_when_required(monkeypatch, capsys, argv, code):
    monkeypatch.delenv("SLOLAB_REQUIRE_NATIVE", raising=False)
    monkeypatch.setattr(nativebuild, "_compiler", lambda: None)
    called = []
    monkeypatch.setattr(nativebuild, "build", lambda: called.append(1) or [])
    assert nativebuild.main(argv) == code
    out = capsys.readouterr().out
    assert "Engine not compiled: no a C compiler (apt-get install gcc)" in out
    assert "make native" in out and not called


def test_a_failed_compile_keeps_engine_py_and_says_why(monkeypatch, capsys):
    monkeypatch.delenv("SLOLAB_REQUIRE_NATIVE", raising=False)
    monkeypatch.setattr(nativebuild, "_compiler", lambda: "/usr/bin/cc")
    monkeypatch.setattr(nativebuild, "_has_headers", lambda: True)
    monkeypatch.setattr(nativebuild, "_has_mypyc", lambda: True)

    def fail():
        raise RuntimeError("mypyc failed (python -m mypyc ...):\nerror: something")

    monkeypatch.setattr(nativebuild, "build", fail)
    assert nativebuild.main([]) == 0
    err = capsys.readouterr().err
    assert "✗ mypyc failed" in err and "runs engine.py meanwhile" in err
    monkeypatch.setenv("SLOLAB_REQUIRE_NATIVE", "1")
    assert nativebuild.main([]) == 1
