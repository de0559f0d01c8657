"""Resource quantities, parsed with the Kubernetes Python client's ``parse_quantity``.

``kubernetes.utils.quantity`` depends only on ``decimal``, but importing it the usual way runs
``kubernetes/__init__.py``, which loads the whole generated API client (about 0.3 s of every
grade). So the module is loaded from the installed package by its file path, unchanged.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Mapping
from decimal import Decimal


@functools.cache
def _parse_quantity() -> Callable[[object], Decimal]:
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the kubernetes client is not installed: run `make setup`")
    path = f"{next(iter(spec.submodule_search_locations))}/utils/quantity.py"
    module_spec = importlib.util.spec_from_file_location("slolab._k8s_quantity", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.parse_quantity


def parse(value: object) -> Decimal:
    """``"500m"`` → 0.5, ``"16Gi"`` → 17179869184, ``1`` → 1. Raises ValueError when invalid."""
    return _parse_quantity()(value)


def resources(spec: Mapping[str, object] | None) -> dict[str, Decimal]:
    """A requests/limits map with every quantity parsed."""
    return {name: parse(v) for name, v in (spec or {}).items()}
