"""Run a lab's grader the way ``slolab grade NAME`` does: pytest on labs/<name>/grader/.

pytest runs in this process, quiet (progress marks, then the plugin's grade table), with no
cache, no plugin but slolab's grading plugin, and no configuration from the checkout's
pyproject.toml: ``-c`` points at the null device, and the rootdir and conftest cut-off are the
grader folder, so only the lab's own conftest.py applies. JUnit XML goes to
``<report-dir>/junit.xml``. The run's options travel as one ``options.GradeOptions``: its
``--slolab-*`` arguments, which the plugin reads back.
"""

from __future__ import annotations

import gc
import os

import pytest

from slolab import errors, paths
from slolab.catalog import lab as lab_mod
from slolab.grading import options as options_mod

PLUGIN = "slolab.grading.plugin"
#: Installed pytest plugins are not loaded (--disable-plugin-autoload: listing their entry
#: points alone costs about 40 ms); the grading plugin is named. These are blocked as well,
#: for a pytest that has them loaded already (pytester in slolab's tests): plugins that cost
#: time (importing kmock about 0.4 s, pytest-asyncio 0.15 s; unraisableexception's two full
#: gc.collect() at exit about 0.09 s on the reference machine) or would patch the process
#: (locust's gevent); and pytest's own plugins a grader has no use for (doctest, --pdb,
#: unittest.TestCase, pastebin, legacy paths, stepwise), whose imports cost about 15 ms.
NOT_FOR_GRADING = (
    "cacheprovider",
    "kmock",
    "asyncio",
    "locust",
    "rerunfailures",
    "unraisableexception",
    "doctest",
    "debugging",
    "unittest",
    "pastebin",
    "legacypath",
    "stepwise",
)
#: the cyclic collector's first threshold during a grade (CPython's default is 700)
GC_THRESHOLD0 = 10_000


def pytest_args(options: options_mod.GradeOptions, extra_args: list[str] | None = None) -> list[str]:
    """The pytest command line of a grade run (``run`` passes it to ``pytest.main``)."""
    lab = lab_mod.load(options.lab)
    grader = lab.grader_dir
    if not grader.is_dir():
        raise errors.CatalogError(
            errors.Problem(paths.relative(grader), "no grader folder; a lab needs grader/test_*.py"),
            f"Restore it with `git checkout -- labs/{options.lab}/grader`.",
        )
    resolved = options.resolve(lab)
    args = [
        str(grader),
        f"--config-file={os.devnull}",
        f"--rootdir={grader}",
        f"--confcutdir={grader}",
        "--disable-plugin-autoload",
        "-p",
        PLUGIN,
        *(arg for name in NOT_FOR_GRADING for arg in ("-p", f"no:{name}")),
        "-qq",
        "--no-header",
        "--tb=no",
        "-rN",
        f"--junitxml={resolved.report_path('junit.xml')}",
        *resolved.to_args(),
    ]
    return args + list(extra_args or [])


def run(options: options_mod.GradeOptions, extra_args: list[str] | None = None) -> int:
    """Grade ``options.lab``; pytest's exit code: 0 every check passed, 1 some did not, 2+ pytest trouble.

    ``extra_args`` go last, so ``["--tb=short"]`` or ``["-v"]`` override the quiet defaults.
    """
    return int(pytest.main(pytest_args(options, extra_args)))


def spare_the_collector() -> None:
    """For a process that grades once and exits (``slolab grade``): a grade on sim allocates
    millions of small objects (requests, events, samples) that live until it ends, so CPython's
    cyclic collector, run every 700 allocations and traversing every module and catalog object
    in its oldest generation, cost 6-10 % of a grade's CPU. What was made so far lives to the
    end (``gc.freeze``: the collector no longer traverses it, nor frees cyclic garbage among it)
    and the youngest generation is collected every ``GC_THRESHOLD0`` allocations. Nothing a
    grade computes depends on when garbage is collected."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD0, older, oldest)
