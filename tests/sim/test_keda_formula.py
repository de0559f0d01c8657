"""The documented subset of expr that scalingModifiers.formula may use on the simulator."""

from __future__ import annotations

import pytest

from slolab.sim import kedaformula

NAMES = {"queue", "running"}


@pytest.mark.parametrize(
    ("formula", "values", "expected"),
    [
        ("queue / 4", {"queue": 10}, 2.5),  # / is float division
        ("queue + running * 2", {"queue": 1, "running": 3}, 7.0),  # * before +
        ("(queue + running) * 2", {"queue": 1, "running": 3}, 8.0),
        ("2 ** 3 ** 2", {}, 512.0),  # ** is right-associative
        ("-queue + 1", {"queue": 3}, -2.0),
        ("queue > 5 ? queue : 0", {"queue": 6}, 6.0),
        ("queue > 5 ? queue : 0", {"queue": 5}, 0.0),
        ("queue > 1 && running < 2 ? 1 : 2", {"queue": 2, "running": 1}, 1.0),
        ("queue > 1 and not (running < 2) ? 1 : 2", {"queue": 2, "running": 1}, 2.0),
        ("queue == 3 || running != 1 ? 1 : 0", {"queue": 4, "running": 1}, 0.0),
        ("max(queue / 1, running / 16)", {"queue": 2, "running": 48}, 3.0),
        ("min(queue, running, 7)", {"queue": 9, "running": 8}, 7.0),
        ("ceil(queue / 4) + floor(running / 4) + abs(-1)", {"queue": 5, "running": 7}, 4.0),
        (
            "a ? b : c ? 1 : 2".replace("a", "queue > 0").replace("b", "3").replace("c", "running > 0"),
            {"queue": 0, "running": 1},
            1.0,
        ),
    ],
)
def test_the_subset_evaluates_as_expr_does(formula, values, expected):
    f = kedaformula.compile_formula(formula, NAMES)
    assert f.run({"queue": 0.0, "running": 0.0, **values}) == expected


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("queue % 2", "'%' at column 7 is not modelled"),
        ("queue ?? 1", "'??' at column 7 is not modelled"),
        ("round(queue)", "'round()' at column 1 is not modelled"),
        ("let x = 1; x", "'let' at column 1 is not modelled"),
        ('queue > 1 ? "a" : 1', "'\"' at column 13 is not modelled"),
        ("queue.value", "'.' at column 6 is not modelled"),
        ("latency * 2", "unknown name latency (1:1)"),
        ("queue *", "unexpected end of formula"),
        ("queue ? 1 : 2", "non-bool expression"),
        ("queue > 1", "non-float result bool"),
        ("max()", "invalid number of arguments to max"),
    ],
)
def test_anything_else_is_an_error_naming_it(formula, message):
    with pytest.raises(kedaformula.FormulaError, match=None) as exc:
        kedaformula.compile_formula(formula, NAMES)
    assert message in str(exc.value)
