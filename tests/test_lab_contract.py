"""The lab contract (DESIGN.md §3) on the sim backend, for every lab, with three seeds:

1. the untouched fault fails exactly the checks lab.yaml says it is about;
2. the reference solution passes every check, and so does each other correct fix of the lab's
   alternatives/ (a lab has at least one: the grader judges outcomes, not the solution's YAML);
3. each mutation of the solution fails exactly its declared checks;
4. grading is deterministic for a seed; the margins to each target are printed.

The judgements themselves are in contract_support.py, where test_contract_support.py shows each
of them failing on the reports of broken graders.
"""

from __future__ import annotations

import concurrent.futures

import contract_support
import pytest
from _support import grade

from slolab.catalog import lab as lab_mod
from slolab.workspace import variants

pytestmark = [pytest.mark.slow, pytest.mark.contract]

LABS = lab_mod.names()


def _cases(lab: lab_mod.Lab) -> list[tuple[str, dict[str, str], set[str]]]:
    cases = [
        ("fault", variants.fault_files(lab), set(lab.fault.fails)),
        ("solution", variants.solution_files(lab), set()),
    ]
    alternatives = variants.alternative_files(lab)
    cases += [(f"alternative {name}", files, set()) for name, files in alternatives.items()]
    cases += [(f"mutation {m.id}", variants.mutation_files(lab, m), set(m.fails)) for m in lab.mutations]
    return cases


@pytest.fixture(scope="module", params=LABS)
def contract(request, tmp_path_factory, helm):
    """Every case × seed of one lab, graded in parallel: {(case, seed): (expected, report)}."""
    lab = lab_mod.load(request.param)
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for case, files, expected in _cases(lab):
            for seed in lab.seeds:
                ws = tmp_path_factory.mktemp(f"{lab.name}-{case.replace(' ', '-')}-{seed}") / lab.name
                variants.write(files, ws)
                jobs[(case, seed)] = (expected, pool.submit(grade, lab.name, ws, seed))
        results = {key: (expected, fut.result()) for key, (expected, fut) in jobs.items()}
    return lab, results


@pytest.mark.parametrize("name", LABS)
def test_the_lab_has_another_correct_fix(name):
    lab = lab_mod.load(name)
    assert variants.alternative_files(lab), (
        f"labs/{name}/alternatives/ holds no other correct fix: add a folder with a fix written "
        "differently from solution/ (its files replace solution/'s of the same names)"
    )


def _not_passed(report: dict) -> set[str]:
    return {c["id"] for c in report["checks"] if c["status"] != "passed"}


def test_every_case_fails_exactly_its_checks(contract):
    _, results = contract
    wrong = []
    for (case, seed), (expected, report) in sorted(results.items()):
        got = _not_passed(report)
        if got != expected:
            detail = {c["id"]: f"{c['status']} {c['observed_text']}" for c in report["checks"]}
            wrong.append(
                f"{case} seed {seed}: expected failing {sorted(expected)}, got {sorted(got)}: {detail}"
            )
    assert not wrong, "\n".join(wrong)


def test_fault_checks_fail_with_evidence(contract):
    """Each check the fault is about was judged on evidence: an observed number that misses its
    target (or Inconclusive with the grader's reason), over a window inside the run."""
    lab, results = contract
    problems = [
        f"fault seed {seed}: {problem}"
        for seed in lab.seeds
        for problem in contract_support.fault_evidence_problems(lab, results[("fault", seed)][1])
    ]
    assert not problems, "\n".join(problems)


def test_margins_are_not_knife_edge(contract, capsys):
    """Report how far the worst seed of the solution, and of each other correct fix, is from each
    target (zero targets included)."""
    lab, results = contract
    passing = ["solution", *sorted({case for case, _ in results if case.startswith("alternative ")})]
    lines, problems = [], []
    for case in passing:
        for slo_id, slo in lab.slos.items():
            observed = []
            for seed in lab.seeds:
                check = next((c for c in results[(case, seed)][1]["checks"] if c["id"] == slo_id), None)
                observed.append(None if check is None else check["observed"])
            m = contract_support.margin(slo_id, slo, observed)
            lines.append(m.line(lab.name, slo.expected(), case))
            problems += [f"{case}: {p}" for p in contract_support.margin_problems(m)]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert not problems, "\n".join(problems + lines)


def test_deterministic_for_a_seed(contract, tmp_path):
    lab, results = contract
    ws = tmp_path / lab.name
    variants.write(variants.solution_files(lab), ws)
    again = grade(lab.name, ws, lab.seeds[0])
    first = results[("solution", lab.seeds[0])][1]
    assert [(c["id"], c["observed"]) for c in again["checks"]] == [
        (c["id"], c["observed"]) for c in first["checks"]
    ]
    other = results[("solution", lab.seeds[1])][1]
    assert [c["observed"] for c in other["checks"]] != [c["observed"] for c in first["checks"]], (
        "different seeds gave identical observations: is the seed used?"
    )
