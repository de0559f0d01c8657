"""Grading: the pytest plugin that gives lab graders their fixtures, judges SLO checks, and reports.

``plugin`` is the ``pytest11`` entry point (inert unless ``--slolab-lab`` is given), ``fixtures``
is the grader kit it registers (built on ``serving``, ``loadwindow`` and ``lab.prom``),
``verdict`` judges one check of lab.yaml, ``options`` is the one options object of a grade run,
``graderun`` what the plugin keeps of it, and ``runner`` runs a lab's grader the way ``slolab
grade`` does.

pytest marks the package of a ``pytest11`` plugin for assertion rewriting when it starts; this
package is already imported when ``runner`` calls ``pytest.main``, and has no asserts to rewrite,
so it opts out (PYTEST_DONT_REWRITE) instead of warning on every grade.
"""
