"""Render a slolab chart into the files a learner edits, comments kept.

``helm template`` runs through pyhelm3 with the merged values on stdin. pyhelm3's own
``template_resources`` parses the output and so drops every comment; the templates'
comments are meant for the person who edits the rendered YAML, so this module asks
pyhelm3's ``Command.run`` for helm's raw output and splits it at helm's
``# Source: <chart>/templates/<file>`` lines into one file per template.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyhelm3
from pyhelm3 import errors as helm_errors

from slolab import errors, paths, toolchain
from slolab.catalog import yamlfile

#: Prepended to each file; ``{chart}``, ``{template}``, ``{release}`` and ``{namespace}``
#: are filled in. Callers that know the lab pass their own header naming it.
DEFAULT_HEADER = (
    "Rendered by slolab from charts/{chart} ({template}).\n"
    "Edit this file; `make grade NAME=<lab>` judges what it describes."
)

_SOURCE = re.compile(r"^# Source: (?P<path>\S+)\s*$")
_SCHEMA_LINE = re.compile(r"^- at '(?P<pointer>[^']*)': (?P<message>.+)$")
_EXECUTION = re.compile(r"execution error at \((?P<where>[^)]*)\): (?P<message>.+)", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class RenderedFile:
    """One rendered template: its file name (``deployment.yaml``) and YAML text."""

    name: str
    text: str


def merge_values(*values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep-merge values in order, later winning, as ``helm -f a.yaml -f b.yaml`` does.

    Maps merge key by key; anything else (lists included) is replaced. A None value is
    kept, so that helm then removes that key from the chart's defaults.
    """
    merged: dict[str, Any] = {}
    for layer in values:
        if layer:
            _merge_into(merged, layer)
    return merged


def _merge_into(base: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge_into(base[key], value)
        else:
            base[key] = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)


# -- helm ------------------------------------------------------------------------------------


@functools.cache
def _helm(executable: str) -> tuple[pyhelm3.Client, pyhelm3.Command]:
    # Client() runs `helm version` synchronously; one per helm binary is enough.
    # render() reports helm's failures itself; pyhelm3 would also log each one as a warning.
    logging.getLogger("pyhelm3.command").setLevel(logging.ERROR)
    command = pyhelm3.Command(executable=executable)
    return pyhelm3.Client(command, executable=executable), command


_charts: dict[tuple[str, Path, int], Any] = {}


async def _chart(client: pyhelm3.Client, helm: str, chart_dir: Path) -> Any:
    """pyhelm3's Chart for a local chart directory, reused until its Chart.yaml changes."""
    key = (helm, chart_dir, (chart_dir / "Chart.yaml").stat().st_mtime_ns)
    if key not in _charts:
        _charts[key] = await client.get_chart(chart_dir)
    return _charts[key]


async def _template(helm: str, chart_dir: Path, release: str, namespace: str, values: dict) -> str:
    client, command = _helm(helm)
    chart = await _chart(client, helm, chart_dir)
    argv = ["template", release, str(chart.ref), "--namespace", namespace, "--values", "-"]
    # Command.run returns helm's stdout untouched, comments included.
    out = await command.run(argv, json.dumps(values, default=str).encode())
    return out.decode()


def _schema_problems(stderr: str, source: str) -> list[errors.Problem]:
    problems = []
    for line in stderr.splitlines():
        match = _SCHEMA_LINE.match(line.strip())
        if match:
            parts = [p.replace("~1", "/").replace("~0", "~") for p in match["pointer"].split("/") if p]
            path = tuple(int(p) if p.isdigit() else p for p in parts)
            problems.append(errors.Problem(source, match["message"], field=yamlfile.dotted(path) or None))
    return problems


def _render_error(exc: helm_errors.Error, chart: str, source: str) -> errors.SlolabError:
    stderr = exc.stderr.decode(errors="replace").strip()
    problems = _schema_problems(stderr, source)
    if problems:
        return errors.InputError(problems, f"See the values with `helm show values charts/{chart}`.")
    match = _EXECUTION.search(stderr)
    if match:
        message = match["message"].split("\n\nUse --debug")[0].strip()
        return errors.InputError(
            errors.Problem(source, f"{message} (from charts/{match['where'].split(':')[0]})"),
            f"See the values with `helm show values charts/{chart}`.",
        )
    if isinstance(exc, helm_errors.FailedToRenderChartError):
        return errors.InputError(errors.Problem(source, stderr.removeprefix("Error: ")))
    hint = (
        f"Fetch the chart's pinned dependencies: `.tools/bin/helm dependency build charts/{chart}`."
        if "missing in charts/ directory" in stderr
        else "Run `make setup` to reinstall helm, then try again."
    )
    return errors.ToolError(f"✗ helm template charts/{chart} failed: {stderr.removeprefix('Error: ')}", hint)


def _split(output: str) -> list[tuple[str, str]]:
    """(template file name, text) for each ``# Source:`` section, in helm's order, merged per file."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        match = _SOURCE.match(line)
        if match:
            name = match["path"].split("/templates/", 1)[-1]
            current = sections.setdefault(name, [])
            if current:
                current.append("---")
            continue
        if current is None or (line.strip() == "---" and not current):
            continue
        current.append(line)
    out = []
    for name, lines in sections.items():
        while lines and lines[-1].strip() in ("", "---"):
            lines.pop()
        if lines:
            out.append((name, "\n".join(lines) + "\n"))
    return out


def _header_text(header: str, **fields: str) -> str:
    class _Keep(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    text = header.format_map(_Keep(fields))
    return "".join(
        (line if line.startswith("#") else f"# {line}".rstrip()) + "\n" for line in text.splitlines()
    )


def render(
    chart: str,
    values: list[dict[str, Any]],
    release: str = "llm",
    namespace: str = "default",
    *,
    header: str | None = DEFAULT_HEADER,
    source: str | None = None,
) -> list[RenderedFile]:
    """``helm template`` charts/<chart> with ``values`` merged in order; one file per template.

    ``header`` (lines become ``#`` comments; None for none) is prepended to every file.
    ``source`` names where the values came from, for the InputError raised when the
    chart refuses them (schema or ``fail``). ToolError when helm is missing or fails.
    Synchronous (it runs pyhelm3 under ``asyncio.run``), so not for use inside an event loop.
    """
    chart_dir = paths.charts_dir() / chart
    if not (chart_dir / "Chart.yaml").is_file():
        raise errors.InputError(
            errors.Problem(paths.relative(chart_dir), "no such chart (Chart.yaml not found)"),
            f"Charts: {', '.join(sorted(p.parent.name for p in paths.charts_dir().glob('*/Chart.yaml')))}.",
        )
    source = source or f"values for charts/{chart}"
    helm = str(toolchain.helm_path())
    merged = merge_values(*values)
    try:
        output = asyncio.run(_template(helm, chart_dir, release, namespace, merged))
    except helm_errors.Error as exc:
        raise _render_error(exc, chart, source) from None
    except (AssertionError, OSError) as exc:
        raise errors.ToolError(f"✗ Cannot run helm ({helm}): {exc}", toolchain.SETUP_HINT) from exc
    files = []
    for name, text in _split(output):
        if header:
            text = (
                _header_text(header, chart=chart, template=name, release=release, namespace=namespace) + text
            )
        files.append(RenderedFile(name=name, text=text))
    return files
