"""Resource quantities, parsed with the Kubernetes client's ``parse_quantity``."""

from __future__ import annotations

from decimal import Decimal


def parse(value: object) -> Decimal:
    """``"500m"`` → 0.5, ``"16Gi"`` → 17179869184, ``1`` → 1. Raises ValueError when invalid."""
    from kubernetes.utils.quantity import parse_quantity  # heavy import: only when needed

    return parse_quantity(value)


def resources(spec: dict[str, object] | None) -> dict[str, Decimal]:
    """A requests/limits map with every quantity parsed."""
    return {name: parse(v) for name, v in (spec or {}).items()}
