"""The expression language of Argo Rollouts' successCondition and failureCondition: a subset.

Upstream: argoproj/argo-rollouts v1.9.1 utils/evaluate/evaluate.go (EvalCondition: the
expression is compiled by expr-lang (github.com/antonmedv/expr) with the environment
``result``, ``asInt``, ``asFloat``, ``isNaN``, ``isInf``, ``isNil``, ``default``, and must
return a bool) and the expr-lang language definition (https://expr-lang.org/docs/language-definition).

Supported subset, everything else is an ExprError when the template is applied:
- literals: numbers (``2``, ``0.5``, ``1e3``), ``true``, ``false``, ``nil``, strings;
- ``result``, indexing ``result[0]`` (negative indexes count from the end, as in expr-lang;
  out of range is a runtime error, which Argo records as a measurement Error);
- calls: ``isNaN(x)``, ``isInf(x)``, ``isNil(x)``, ``default(x, d)``, ``asInt(x)``,
  ``asFloat(x)``, ``len(x)``;
- unary ``!``/``not`` and ``-``; ``*``, ``/`` (always a float, as in expr-lang), ``%``, ``+``,
  ``-``; comparisons ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``; ``&&``/``and``,
  ``||``/``or`` (short-circuit, so ``len(result) > 0 && result[0] < 2`` never indexes an
  empty result); parentheses.
Not supported (an error naming the construct): member access, ``?:``, ``??``, ``in``,
``matches``, ranges, pipes, closures, ``let``, and any other builtin.
As in Argo, ``isNil(x)`` and ``default(x, d)`` look at the measurement's raw result, not at
their argument (evaluate.go isNilFunc and defaultFunc ignore it).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

FUNCTIONS = ("isNaN", "isInf", "isNil", "default", "asInt", "asFloat", "len")
_ARITY = {"default": 2}
_UNSUPPORTED = {
    "?": "the ?: operator",
    "??": "the ?? (nil coalescing) operator",
    "..": "ranges (..)",
    ".": "member access (.)",
    "|": "pipes (|)",
    "in": "the in operator",
    "matches": "the matches operator",
    "contains": "the contains operator",
    "startsWith": "the startsWith operator",
    "endsWith": "the endsWith operator",
    "let": "let",
}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|\?\?|\.\.|[-+*/%<>!()\[\],?.:|]))"
)
#: binding power of each binary operator (higher binds tighter)
_BINARY = {
    "||": 1,
    "or": 1,
    "&&": 2,
    "and": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}


class ExprError(ValueError):
    """A condition that does not compile (or uses what the subset leaves out), or a runtime error."""


@dataclasses.dataclass(frozen=True)
class Program:
    """A compiled condition: ``run(result)`` evaluates it against one measurement's result."""

    source: str
    tree: tuple

    def run(self, result: Any) -> Any:
        return _eval(self.tree, result)

    def condition(self, result: Any) -> bool:
        """EvalCondition: the value must be a bool ("expected bool, but got ...")."""
        out = self.run(result)
        if not isinstance(out, bool):
            raise ExprError(f"expected bool, but got {_type_name(out)}")
        return out


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExprError(f"unexpected character {text[pos:].lstrip()[:1]!r} at {pos + 1}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ExprError(f"unexpected end of expression{f', expected {value!r}' if value else ''}")
        if value is not None and tok[1] != value:
            raise ExprError(f"expected {value!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def expression(self, min_power: int = 0) -> tuple:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok is None:
                return left
            op = tok[1]
            if op in _UNSUPPORTED:
                raise ExprError(f"{_UNSUPPORTED[op]} is not supported by the simulator")
            power = _BINARY.get(op) if tok[0] in ("op", "name") else None
            if power is None or power <= min_power:
                return left
            self.take()
            right = self.expression(power)
            left = ("bin", {"and": "&&", "or": "||"}.get(op, op), left, right)

    def unary(self) -> tuple:
        tok = self.peek()
        if tok is not None and tok[1] in ("!", "not"):
            self.take()
            return ("not", self.unary())
        if tok is not None and tok[1] in ("-", "+"):
            self.take()
            operand = self.unary()
            return ("neg", operand) if tok[1] == "-" else operand
        return self.postfix(self.primary())

    def postfix(self, node: tuple) -> tuple:
        while (tok := self.peek()) is not None and tok[1] in ("[", ".", "?"):
            if tok[1] != "[":
                raise ExprError(f"{_UNSUPPORTED[tok[1]]} is not supported by the simulator")
            self.take("[")
            if (nxt := self.peek()) is not None and nxt[1] == ":":
                raise ExprError("slices (result[a:b]) are not supported by the simulator")
            index = self.expression()
            if (nxt := self.peek()) is not None and nxt[1] == ":":
                raise ExprError("slices (result[a:b]) are not supported by the simulator")
            self.take("]")
            node = ("index", node, index)
        return node

    def primary(self) -> tuple:
        kind, value = self.take()
        if kind == "num":
            is_float = any(c in value for c in ".eE")
            return ("lit", float(value) if is_float else int(value))
        if kind == "str":
            return ("lit", bytes(value[1:-1], "utf-8").decode("unicode_escape"))
        if value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind == "name":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "nil":
                return ("lit", None)
            if value in _UNSUPPORTED:
                raise ExprError(f"{_UNSUPPORTED[value]} is not supported by the simulator")
            if (nxt := self.peek()) is not None and nxt[1] == "(":
                return self.call(value)
            if value == "result":
                return ("result",)
            raise ExprError(f"unknown name {value!r}: the environment has result and {', '.join(FUNCTIONS)}")
        raise ExprError(f"unexpected {value!r}")

    def call(self, name: str) -> tuple:
        if name not in FUNCTIONS:
            raise ExprError(
                f"function {name}() is not supported by the simulator (it supports {', '.join(FUNCTIONS)})"
            )
        self.take("(")
        args: list[tuple] = []
        if (tok := self.peek()) is not None and tok[1] != ")":
            args.append(self.expression())
            while (tok := self.peek()) is not None and tok[1] == ",":
                self.take(",")
                args.append(self.expression())
        self.take(")")
        want = _ARITY.get(name, 1)
        if len(args) != want:
            raise ExprError(f"{name}() takes {want} argument(s), got {len(args)}")
        return ("call", name, *args)


def compile_condition(text: str) -> Program:
    """Parse ``text``; an ExprError says what does not compile or is left out of the subset."""
    if not str(text).strip():
        raise ExprError("the condition is empty")
    parser = _Parser(str(text))
    tree = parser.expression()
    if parser.peek() is not None:
        raise ExprError(f"unexpected {parser.peek()[1]!r} after the expression")  # type: ignore[index]
    return Program(str(text), tree)


# ---- evaluation ------------------------------------------------------------------------------


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, list):
        return "[]float64"
    if v is None:
        return "nil"
    return "string"


def _number(v: Any, op: str) -> float | int:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ExprError(f"invalid operation: {op} on {_type_name(v)}")
    return v


def _eval(node: tuple, result: Any) -> Any:
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "result":
        return result
    if tag == "not":
        v = _eval(node[1], result)
        if not isinstance(v, bool):
            raise ExprError(f"invalid operation: ! on {_type_name(v)}")
        return not v
    if tag == "neg":
        return -_number(_eval(node[1], result), "-")
    if tag == "index":
        seq = _eval(node[1], result)
        i = _eval(node[2], result)
        if not isinstance(seq, list):
            raise ExprError(f"cannot index {_type_name(seq)}")
        if isinstance(i, bool) or not isinstance(i, int):
            raise ExprError(f"index must be an integer, got {_type_name(i)}")
        j = i + len(seq) if i < 0 else i
        if not 0 <= j < len(seq):
            raise ExprError(f"reflect: slice index out of range (index {i}, length {len(seq)})")
        return seq[j]
    if tag == "call":
        return _call(node[1], [_eval(a, result) for a in node[2:]], result)
    op, left_node, right_node = node[1], node[2], node[3]
    left = _eval(left_node, result)
    if op in ("&&", "||"):
        if not isinstance(left, bool):
            raise ExprError(f"invalid operation: {op} on {_type_name(left)}")
        if (op == "&&" and not left) or (op == "||" and left):
            return left
        right = _eval(right_node, result)
        if not isinstance(right, bool):
            raise ExprError(f"invalid operation: {op} on {_type_name(right)}")
        return right
    right = _eval(right_node, result)
    if op in ("==", "!="):
        same = left == right
        return same if op == "==" else not same
    a, b = _number(left, op), _number(right, op)
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b if b != 0 else (math.nan if a == 0 else math.copysign(math.inf, a) * math.copysign(1, b))
    if b == 0:  # %
        raise ExprError("integer divide by zero")
    return math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else int(math.fmod(a, b))


def _call(name: str, args: list[Any], result: Any) -> Any:
    if name == "isNil":  # isNilFunc: the raw result, not the argument
        return result is None
    if name == "default":  # defaultFunc: the default when the raw result is nil
        return args[1] if result is None else result
    (x,) = args
    if name == "len":
        if not isinstance(x, list | str):
            raise ExprError(f"invalid argument for len (type {_type_name(x)})")
        return len(x)
    if name in ("isNaN", "isInf"):
        if isinstance(x, bool) or not isinstance(x, float | int):
            raise ExprError(f"{name}() expects a float64, got {_type_name(x)}")
        return math.isnan(x) if name == "isNaN" else math.isinf(x)
    if name == "asInt":
        if isinstance(x, str):
            return int(x)
        return int(_number(x, name))
    if isinstance(x, str):  # asFloat
        return float(x)
    return float(_number(x, name))
