"""Entry point for ``kopf run -m slolab_operator.main --all-namespaces``.

Importing this module registers the Lab handlers into kopf's default registry with the
settings of the environment (:meth:`slolab_operator.config.Config.from_env`). Tests do not
import it; they call :func:`slolab_operator.handlers.register` with a registry of their own.
"""

from __future__ import annotations

import kopf

from slolab_operator import config, handlers

CONFIG = config.Config.from_env()
CONFIG.lab_overlay()  # a bad SLOLAB_OPERATOR_LAB_VALUES stops the operator at start, not each Lab
handlers.register(kopf.get_default_registry(), CONFIG)
