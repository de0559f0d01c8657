"""Reports of a grade run: the terminal table, the JSON document (and latest.json), the timeline PNG.

``jsonreport.document`` builds the grade document that the other two render; JUnit XML is
pytest's own ``--junitxml``, with each judgement as a ``slolab_check`` property.
"""
