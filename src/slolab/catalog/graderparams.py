"""Grader parameters: how a lab declares the knobs its grader reads, and how lab.yaml is checked.

A lab whose grader takes parameters (windows, deadlines, a traffic profile) declares them as a
pydantic model in ``labs/<lab>/grader/params.py``, a class named ``Params`` that subclasses
``graderparams.Params`` (unknown fields are errors, values are not coerced, instances are
frozen). lab.yaml gives the values under ``grading.params``; they are validated against that
model whenever the lab loads (``slolab list``, ``slolab lab``, ``slolab grade``, the lab
contract), and every problem names ``labs/<lab>/lab.yaml``, its line and the field::

    # labs/keda-scaling/grader/params.py
    import pydantic
    from slolab.catalog import graderparams

    class Params(graderparams.Params):
        profile: str = pydantic.Field(description="the scenario's traffic profile to drive")
        ramp_s: float = pydantic.Field(gt=0, description="how long the load takes to triple")

    # labs/keda-scaling/lab.yaml
    grading:
      target: {deployment: llm, service: llm}
      params: {profile: burst, ramp_s: 120}

Graders read the validated instance through the ``params`` fixture (``params.ramp_s``), never
by importing params.py themselves: the catalog loads the file under a module name of its own
(``slolab_lab_params.<lab>``), so the class a grader sees is the one that validated lab.yaml.
A lab without grader/params.py takes no parameters: any key under ``grading.params`` is then
an unknown field.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

import pydantic

from slolab import errors, paths
from slolab.catalog import schema

#: Where a lab declares its grader's parameters, relative to ``labs/<lab>/``.
PARAMS_FILE = "grader/params.py"
#: The class that file must define.
PARAMS_CLASS = "Params"


class Params(schema.Strict):
    """Base of every lab's grader parameters: unknown fields are errors, values are not coerced."""


class NoParams(Params):
    """The parameters of a lab without grader/params.py: none."""


def _import_problem(file: Path, exc: BaseException) -> errors.Problem:
    """The file and line where importing ``file`` raised ``exc``."""
    display = paths.relative(file)
    if isinstance(exc, SyntaxError):
        return errors.Problem(display, f"invalid Python: {exc.msg}", line=exc.lineno)
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == file]
    return errors.Problem(
        display, f"cannot be imported: {type(exc).__name__}: {exc}", line=lines[-1] if lines else None
    )


def model_for(lab_dir: Path) -> type[Params]:
    """The ``Params`` class of ``lab_dir/grader/params.py``, or NoParams when the file is absent.

    The file is run as module ``slolab_lab_params.<lab>`` (registered in sys.modules, so pydantic
    resolves its annotations); a file that does not import, or defines no ``Params`` subclass of
    ``graderparams.Params``, is a CatalogError naming it.
    """
    file = (lab_dir / PARAMS_FILE).resolve()
    if not file.is_file():
        return NoParams
    module_name = f"slolab_lab_params.{lab_dir.name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:  # only for a path importlib cannot load at all
        raise errors.CatalogError(errors.Problem(paths.relative(file), "cannot be loaded as a Python module"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the lab's own code: its error is reported with file and line
        del sys.modules[module_name]
        raise errors.CatalogError(
            _import_problem(file, exc), f"Fix {paths.relative(file)}; `slolab -v list` shows the traceback."
        ) from exc
    found = getattr(module, PARAMS_CLASS, None)
    if not (isinstance(found, type) and issubclass(found, Params)):
        raise errors.CatalogError(
            errors.Problem(
                paths.relative(file),
                f"must define class {PARAMS_CLASS}(graderparams.Params), the model of grading.params "
                f"(found {type(found).__name__ if found is not None else 'nothing'} named {PARAMS_CLASS})",
            ),
            "An example is in the docstring of src/slolab/catalog/graderparams.py.",
        )
    try:
        found.model_json_schema()  # an unresolvable annotation fails here, not mid-validation
    except pydantic.PydanticUserError as exc:
        raise errors.CatalogError(
            errors.Problem(paths.relative(file), f"class {PARAMS_CLASS} is not a valid model: {exc}")
        ) from None
    return found
