"""Backends run a lab: ``sim`` (embedded simulator), later ``kind`` and ``cluster``.

All of them offer the same ``base.Backend`` interface, which the grading plugin hands to
graders as the ``lab`` fixture.
"""
