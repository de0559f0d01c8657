"""Parsing PromQL as Prometheus 2.42 does: promql-parser, plus 2.42's stricter syntax and positions.

Upstream: prometheus v2.42.0 promql/parser (lex.go: durations are integers with units
y, w, d, h, m, s, ms; parse.go: errors carry ``line:column``). promql-parser 0.11 follows
Prometheus 2.45 and parts of 3.x, so what it accepts and 2.42 does not is refused here: quoted
metric and label names, ``fill()`` modifiers, and durations without a unit (``x[5]``,
``offset 5``). holt_winters, which 2.42 has and promql-parser does not know, is registered
with the parser (a process-wide registration in promql-parser, made once).

promql-parser's errors have no positions; ``error_position`` finds one: the place a message
names (a function, a regex, a duration), or else the first token after the longest prefix of
the query that can still be completed into a valid query.

A query's AST is kept per query string (a controller asks the same few queries on every sync):
the AST is read, never changed, by the evaluator.
"""

from __future__ import annotations

import functools
import re

import promql_parser

from slolab import errors

_POSITIONED = [
    (re.compile(r"unknown function with name '([^']+)'"), lambda m: m.group(1) + "("),
    (re.compile(r"in call to function '([^']+)'"), lambda m: m.group(1) + "("),
    (re.compile(r"in call to '([^']+)'"), lambda m: m.group(1) + "("),
    (re.compile(r"illegal regex for (.+)$"), lambda m: m.group(1)),
    (re.compile(r"bad number or duration syntax: (.+)$"), lambda m: m.group(1)),
    (re.compile(r"set operator '(\w+)'"), lambda m: m.group(1)),
]


_WRONG_TYPE = re.compile(r"expected type (\w+) in call to function '([^']+)', got (\w+)")


def _kind(text: str) -> str | None:
    """The value type of an expression on its own: matrix, vector, scalar or string."""
    try:
        node = promql_parser.parse(text)
    except ValueError:
        return None
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    if isinstance(node, promql_parser.MatrixSelector | promql_parser.SubqueryExpr):
        return "matrix"
    if isinstance(node, promql_parser.NumberLiteral):
        return "scalar"
    if isinstance(node, promql_parser.StringLiteral):
        return "string"
    if isinstance(node, promql_parser.Call):
        return str(node.func.return_type).rsplit(".", 1)[-1].lower()
    return "vector"


def _argument_position(query: str, function: str, got: str) -> int | None:
    """Where the first argument of ``function(...)`` of type ``got`` starts."""
    start = query.find(function + "(")
    if start < 0:
        return None
    depth, begin, args = 0, None, []
    for pos, text in tokens(query[start:]):
        pos += start
        if text in "([{":
            depth += 1
            if depth == 1:
                begin = pos + 1
                continue
        elif text in ")]}":
            depth -= 1
        if (depth == 1 and text == ",") or (depth == 0 and text == ")"):
            if begin is not None:
                args.append((begin, query[begin:pos]))
            begin = pos + 1
            if depth == 0:
                break
    for begin, text in args:
        if _kind(text.strip()) == got:
            return begin + len(text) - len(text.lstrip())
    return args[0][0] if args else None


def error_position(query: str, message: str) -> int | None:
    """Where in ``query`` the parser's complaint points (promql-parser gives no positions)."""
    wrong = _WRONG_TYPE.search(message)
    if wrong:
        found = _argument_position(query, wrong.group(2), wrong.group(3))
        if found is not None:
            return found
    for pattern, needle in _POSITIONED:
        m = pattern.search(message)
        if m:
            found = query.find(needle(m))
            if found >= 0:
                return found
    if "unexpected end of input" in message:
        return len(query.rstrip())
    if "unclosed left parenthesis" in message:
        depth: list[int] = []
        for i, ch in enumerate(query):
            if ch == "(":
                depth.append(i)
            elif ch == ")" and depth:
                depth.pop()
        return depth[0] if depth else None
    return _first_bad_token(query)


def _quoted_name_position(query: str) -> int | None:
    """Where a selector has a quoted metric or label name (``{"a.b"}``, Prometheus 3 syntax), if any."""
    depth = 0
    expect_name = False
    i = 0
    while i < len(query):
        ch = query[i]
        if ch in "\"'`":
            if depth and expect_name:
                return i
            end = i + 1
            while end < len(query) and query[end] != ch:
                end += 2 if query[end] == "\\" and ch != "`" else 1
            i = end + 1
            expect_name = False
            continue
        if ch == "#":
            newline = query.find("\n", i)
            i = len(query) if newline < 0 else newline
            continue
        if ch == "{":
            depth += 1
            expect_name = True
        elif ch == "}":
            depth = max(0, depth - 1)
            expect_name = False
        elif ch == "," and depth:
            expect_name = True
        elif not ch.isspace():
            expect_name = False
        i += 1
    return None


def _check_prometheus_2(query: str, node: promql_parser.Expr) -> None:
    """What promql-parser (Prometheus 3 syntax) accepts and Prometheus 2.42 rejects."""
    bad = _bad_duration(query)
    if bad is not None:
        raise errors.PromQLError(
            f'parse error: bad duration syntax: "{bad[1]}" (2.42 needs a unit: ms, s, m, h, d, w or y)',
            query,
            bad[0],
        )
    quoted = _quoted_name_position(query)
    if quoted is not None:
        raise errors.PromQLError(
            "parse error: quoted metric or label names are Prometheus 3 syntax, not in 2.42", query, quoted
        )

    def visit(expr: object) -> bool:
        modifier = getattr(expr, "modifier", None)
        fill = getattr(modifier, "fill_values", None)
        if fill is not None and (fill.lhs is not None or fill.rhs is not None):
            found = query.find("fill")
            raise errors.PromQLError(
                "parse error: fill() modifiers are Prometheus 3 syntax, not in 2.42",
                query,
                found if found >= 0 else None,
            )
        return True

    promql_parser.walk(node, visit)


@functools.cache
def _register_functions() -> None:
    """holt_winters is in Prometheus 2.42 but not in promql-parser 0.11 (Prometheus 3 renamed it)."""
    try:
        promql_parser.parse("holt_winters(x[1m], 0.5, 0.5)")
    except ValueError:
        scalar, matrix = promql_parser.ValueType.Scalar, promql_parser.ValueType.Matrix
        holt_winters = promql_parser.Function(
            "holt_winters", [matrix, scalar, scalar], promql_parser.ValueType.Vector
        )
        promql_parser.register_extra_functions([holt_winters])


@functools.lru_cache(maxsize=512)
def parse(query: str) -> promql_parser.Expr:
    """The AST of ``query``, or a PromQLError with its position (a failed parse is not kept)."""
    if not query.strip():
        raise errors.PromQLError("empty query", query, 0)
    _register_functions()
    try:
        node = promql_parser.parse(query)
    except ValueError as exc:
        message = str(exc)
        position = error_position(query, message)
        if message == "invalid promql query" and position is not None:  # promql-parser's catch-all
            rest = query[position:].strip()
            message = f"unexpected {tokens(rest)[0][1]!r}" if rest else "unexpected end of input"
        raise errors.PromQLError(f"parse error: {message}", query, position) from None
    _check_prometheus_2(query, node)
    return node


_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|`[^`]*`?|[\w:.]+"""
    r"|==|!=|>=|<=|=~|!~|."
)
_COMPLETIONS = (
    "",
    " x",
    " (x)",
    "(x)",
    " 1",
    ")",
    " x)",
    "x)",
    "))",
    "]",
    "5m]",
    "}",
    '"}',
    '="x"}',
    ":1m])",
)
_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")


def tokens(query: str) -> list[tuple[int, str]]:
    """(position, text) of each token, whitespace and comments left out."""
    return [
        (m.start(), m.group())
        for m in _TOKEN.finditer(query)
        if not m.group().isspace() and m.group()[0] != "#"
    ]


def _completes(prefix: str) -> bool:
    for tail in _COMPLETIONS:
        try:
            promql_parser.parse(prefix + tail)
        except ValueError:
            continue
        return True
    return False


def _first_bad_token(query: str) -> int:
    toks = tokens(query)
    for k in range(len(toks), 0, -1):
        pos, text = toks[k - 1]
        if _completes(query[: pos + len(text)]):
            return toks[k][0] if k < len(toks) else len(query.rstrip())
    return toks[0][0] if toks else 0


def _bad_duration(query: str) -> tuple[int, str] | None:
    """The first duration without a unit, or with a fraction, inside ``[...]`` or after ``offset``."""
    toks = tokens(query)
    in_brackets = False
    for i, (pos, text) in enumerate(toks):
        if text == "[":
            in_brackets = True
        elif text == "]":
            in_brackets = False
        elif in_brackets:
            offset = 0
            for part in text.split(":"):
                if part and not _DURATION.match(part):
                    return pos + offset, part
                offset += len(part) + 1
        elif text.lower() == "offset" and i + 1 < len(toks):
            nxt = toks[i + 2] if toks[i + 1][1] == "-" and i + 2 < len(toks) else toks[i + 1]
            if nxt[1][0].isdigit() and not _DURATION.match(nxt[1]):
                return nxt
    return None
