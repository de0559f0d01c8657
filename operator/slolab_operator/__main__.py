"""``python -m slolab_operator [kopf run options]``: the operator, cluster-wide.

The same as ``kopf run -m slolab_operator.main --all-namespaces [options]``; options such as
``--liveness=http://0.0.0.0:8080/healthz`` or ``--verbose`` pass through to kopf.
"""

from __future__ import annotations

import sys

from kopf import cli


def main(argv: list[str] | None = None) -> None:
    args = [
        "run",
        "-m",
        "slolab_operator.main",
        "--all-namespaces",
        *(sys.argv[1:] if argv is None else argv),
    ]
    cli.main(args=args, prog_name="python -m slolab_operator")


if __name__ == "__main__":
    main()
