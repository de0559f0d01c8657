"""slolab: Kubernetes labs of production LLM-serving faults, graded against SLOs.

PYTEST_DONT_REWRITE (the grading plugin imports this package before pytest could rewrite it).
"""

__version__ = "0.1.0"
