"""The formula of a ScaledObject's ``advanced.scalingModifiers``: a documented subset of expr.

Upstream: kedacore/keda v2.20.2 pkg/scaling/modifiers/formula.go (calculateScalingModifiersFormula:
the formula runs over a map from each trigger's ``name`` to its metric value; the result is the
composite metric), apis/keda/v1alpha1/scaledobject_webhook.go:552-627
(validateScalingModifiersFormula: the formula compiles against the named triggers that are not
cpu or memory and runs once with every value -1; castToFloatIfNecessary wraps it in ``float()``),
and the expr-lang language definition (https://expr-lang.org/docs/language-definition).

Modelled, with expr's precedence (lowest first): the ternary ``c ? a : b``; ``||`` / ``or``;
``&&`` / ``and``; comparisons ``== != < <= > >=``; ``+ -``; ``* /`` (``/`` is float division);
``**`` and ``^`` (power, right-associative); unary ``- + ! not``; parentheses; number literals,
``true``/``false``; trigger names; and the builtins ``min``, ``max`` (one or more arguments),
``abs``, ``ceil``, ``floor``. Not modelled (an error naming the token): ``%``, ``??`` (and so
``fallback.behavior: scalingModifiers``), ``let``, strings, arrays, maps, member access,
``in``/``matches``, pipes, other builtins.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any

FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": lambda *a: float(min(a)),
    "max": lambda *a: float(max(a)),
    "abs": lambda a: float(abs(a)),
    "ceil": lambda a: float(math.ceil(a)),
    "floor": lambda a: float(math.floor(a)),
}

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|\?\?|&&|\|\||==|!=|<=|>=|[-+*/^<>!?:(),%.\[\]{}|\"'`#@$~;=&]))"
)
_WORD_OPS = {"and": "&&", "or": "||", "not": "!"}
_UNSUPPORTED_WORDS = {"let", "in", "matches", "contains", "startsWith", "endsWith", "nil", "if", "else"}
# binary operators: token -> (left binding power, right binding power)
_BINARY = {
    "||": (3, 4),
    "&&": (5, 6),
    "==": (7, 8),
    "!=": (7, 8),
    "<": (7, 8),
    "<=": (7, 8),
    ">": (7, 8),
    ">=": (7, 8),
    "+": (9, 10),
    "-": (9, 10),
    "*": (11, 12),
    "/": (11, 12),
    "**": (14, 13),
    "^": (14, 13),
}
_UNARY_BP = 15


class FormulaError(Exception):
    """The formula uses something outside the modelled subset, or fails to compile or run."""


@dataclasses.dataclass(frozen=True)
class Formula:
    """A compiled formula: ``run(values)`` gives the composite metric's value."""

    source: str
    names: frozenset[str]
    _eval: Callable[[dict[str, float]], Any]

    def run(self, values: dict[str, float]) -> float:
        missing = sorted(self.names - values.keys())
        if missing:
            raise FormulaError(f"unknown name {missing[0]}")
        out = self._eval(values)
        if isinstance(out, bool):
            raise FormulaError(f"formula returned non-float result bool ({str(out).lower()})")
        return float(out)


def _tokens(src: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            raise FormulaError(f"unexpected character {src[pos]!r} at column {pos + 1}")
        kind = m.lastgroup or ""
        text = m.group(kind)
        col = m.start(kind) + 1
        if kind == "name" and text in _WORD_OPS:
            kind, text = "op", _WORD_OPS[text]
        out.append((kind, text, col))
        pos = m.end()
    out.append(("end", "", len(src) + 1))
    return out


def _unsupported(text: str, col: int) -> FormulaError:
    return FormulaError(
        f"{text!r} at column {col} is not modelled by the simulator; it models numbers, trigger names, "
        "+ - * / ** ^, comparisons, && || !, c ? a : b, parentheses and min/max/abs/ceil/floor"
    )


class _Parser:
    def __init__(self, src: str, names: frozenset[str]) -> None:
        self.toks = _tokens(src)
        self.i = 0
        self.names = names
        self.used: set[str] = set()

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self, text: str | None = None) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        if text is not None and tok[1] != text:
            found = tok[1] or "end of formula"
            raise FormulaError(f"expected {text!r} at column {tok[2]}, found {found!r}")
        self.i += 1
        return tok

    def expression(self, min_bp: int = 0) -> Callable[[dict[str, float]], Any]:
        left = self.prefix()
        while True:
            kind, text, col = self.peek()
            if kind != "op":
                break
            if text == "?":
                if min_bp > 1:
                    break
                self.take()
                then = self.expression(1)
                self.take(":")
                other = self.expression(1)
                left = _ternary(left, then, other, col)
                continue
            if text not in _BINARY:
                if text in {")", ",", ":"}:
                    break
                raise _unsupported(text, col)
            lbp, rbp = _BINARY[text]
            if lbp < min_bp:
                break
            self.take()
            right = self.expression(rbp)
            left = _binary(text, left, right, col)
        return left

    def prefix(self) -> Callable[[dict[str, float]], Any]:
        kind, text, col = self.take()
        if kind == "num":
            value = float(text)
            return lambda env: value
        if kind == "name":
            if text in ("true", "false"):
                flag = text == "true"
                return lambda env: flag
            if text in _UNSUPPORTED_WORDS:
                raise _unsupported(text, col)
            if self.peek()[1] == "(":
                return self.call(text, col)
            if self.peek()[1] in (".", "["):
                raise _unsupported(self.peek()[1], self.peek()[2])
            if text not in self.names:
                raise FormulaError(f"unknown name {text} (1:{col})")
            self.used.add(text)
            return lambda env: env[text]
        if kind == "op" and text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind == "op" and text in ("-", "+", "!"):
            operand = self.expression(_UNARY_BP)
            return _unary(text, operand, col)
        if kind == "end":
            raise FormulaError("unexpected end of formula")
        raise _unsupported(text, col)

    def call(self, name: str, col: int) -> Callable[[dict[str, float]], Any]:
        fn = FUNCTIONS.get(name)
        if fn is None:
            raise _unsupported(f"{name}()", col)
        self.take("(")
        args: list[Callable[[dict[str, float]], Any]] = []
        if self.peek()[1] != ")":
            args.append(self.expression())
            while self.peek()[1] == ",":
                self.take()
                args.append(self.expression())
        self.take(")")
        if not args or (name not in ("min", "max") and len(args) != 1):
            raise FormulaError(f"invalid number of arguments to {name} at column {col}")

        def run(env: dict[str, float]) -> float:
            vals = [_number(a(env), name, col) for a in args]
            return fn(*vals)

        return run


def _number(v: Any, what: str, col: int) -> float:
    if isinstance(v, bool):
        raise FormulaError(f"invalid operation: {what} (mismatched types bool) at column {col}")
    return float(v)


def _unary(
    op: str, operand: Callable[[dict[str, float]], Any], col: int
) -> Callable[[dict[str, float]], Any]:
    if op == "!":

        def neg(env: dict[str, float]) -> bool:
            v = operand(env)
            if not isinstance(v, bool):
                raise FormulaError(f"invalid operation: ! (mismatched type float64) at column {col}")
            return not v

        return neg
    sign = -1.0 if op == "-" else 1.0
    return lambda env: sign * _number(operand(env), op, col)


def _binary(op: str, left: Callable, right: Callable, col: int) -> Callable[[dict[str, float]], Any]:
    if op in ("&&", "||"):

        def logic(env: dict[str, float]) -> bool:
            a = left(env)
            if not isinstance(a, bool):
                raise FormulaError(f"invalid operation: {op} (mismatched type float64) at column {col}")
            if (op == "&&" and not a) or (op == "||" and a):
                return a
            b = right(env)
            if not isinstance(b, bool):
                raise FormulaError(f"invalid operation: {op} (mismatched type float64) at column {col}")
            return b

        return logic
    if op in ("==", "!="):
        return lambda env: (left(env) == right(env)) == (op == "==")

    def arith(env: dict[str, float]) -> Any:
        a, b = _number(left(env), op, col), _number(right(env), op, col)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                return math.copysign(math.inf, a) if a else math.nan
            return a / b
        if op in ("**", "^"):
            return math.pow(a, b)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    return arith


def _ternary(cond: Callable, then: Callable, other: Callable, col: int) -> Callable[[dict[str, float]], Any]:
    def run(env: dict[str, float]) -> Any:
        c = cond(env)
        if not isinstance(c, bool):
            raise FormulaError(f"non-bool expression (type float64) used as condition at column {col}")
        return then(env) if c else other(env)

    return run


def compile_formula(source: str, trigger_names: set[str] | frozenset[str]) -> Formula:
    """Compile ``source`` over the given trigger names and run it once with every value -1, as the
    webhook does. Raises FormulaError naming what is wrong."""
    if "??" in source:
        raise _unsupported("??", source.index("??") + 1)
    names = frozenset(trigger_names)
    parser = _Parser(source, names)
    fn = parser.expression()
    kind, text, col = parser.peek()
    if kind != "end":
        raise FormulaError(f"unexpected token {text!r} at column {col}")
    formula = Formula(source, frozenset(parser.used), fn)
    formula.run({n: -1.0 for n in names})
    return formula
