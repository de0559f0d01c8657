"""Errors slolab reports to a person, not to a stack trace.

Every error names what happened and what to run next. The CLI prints ``str(error)`` and
exits with ``error.exit_code``; a traceback is shown only with ``-v``.

    SlolabError                      exit 1: something slolab could not do
    ├── InputError                   exit 2: the user's input is wrong; lists every problem
    │   ├── ManifestError            a workspace manifest: bad YAML, unknown field, wrong type
    │   ├── NotModelledError         a valid field the simulator does not model
    │   ├── CatalogError             a scenario.yaml / lab.yaml / kind-config.yaml problem
    │   ├── UnknownLabError          no such lab (lists the ones that exist)
    │   └── PromQLError              a PromQL query slolab cannot parse or evaluate (with its position)
    ├── ToolError                    helm / kubectl missing or failing
    └── BackendError                 a backend could not run the lab
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with one file: where, which field, what was expected."""

    file: str
    message: str
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SlolabError(Exception):
    """Base of every error slolab reports; ``next_step`` says what to run next."""

    exit_code = 1

    def __init__(self, message: str, next_step: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.next_step = next_step

    def __str__(self) -> str:
        if self.next_step:
            return f"{self.message}\n  {self.next_step}"
        return self.message


class InputError(SlolabError):
    """The user's input is wrong. Carries every problem found, not only the first."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem, next_step: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems), next_step)


class ManifestError(InputError):
    """A workspace manifest is not valid Kubernetes YAML."""


class NotModelledError(InputError):
    """A valid Kubernetes field that the simulator does not model; never silently ignored."""


class CatalogError(InputError):
    """A scenario.yaml, lab.yaml or kind-config.yaml does not match its schema."""


class UnknownLabError(InputError):
    """No lab of that name exists."""


class ToolError(SlolabError):
    """An external tool (helm, kubectl) is missing or failed."""


class BackendError(SlolabError):
    """A backend could not run the lab."""


PROMQL_REFERENCE = "https://prometheus.io/docs/prometheus/2.42/querying/basics/"


class PromQLError(InputError):
    """A PromQL query that does not parse, does not type-check, or uses what slolab does not evaluate.

    ``position`` is the 0-based character offset in ``query`` where the problem is, when known;
    the message shows it 1-based, as Prometheus does (``1:13: parse error: ...``).
    """

    def __init__(self, message: str, query: str | None = None, position: int | None = None) -> None:
        self.query = query
        self.position = position
        self.detail = message
        where = "query" if position is None else f"query:1:{position + 1}"
        if query is not None and position is not None:
            next_step = f"{query}\n  {' ' * position}^\n  PromQL reference: {PROMQL_REFERENCE}"
        elif query is not None:
            next_step = f"{query}\n  PromQL reference: {PROMQL_REFERENCE}"
        else:
            next_step = f"PromQL reference: {PROMQL_REFERENCE}"
        super().__init__(Problem(file=where, message=message), next_step)
