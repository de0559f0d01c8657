"""Backends run a lab: ``sim`` (embedded simulator), ``kind`` and ``cluster`` (``kube``), and
``fake`` (scripted, for unit tests of graders; ``fakescript`` derives its cluster from pod lives).

All of them offer the same ``base.Backend`` interface, which the grading plugin hands to
graders as the ``lab`` fixture; ``lab.prom`` is ``kubeprom`` on kind/cluster.
"""
