"""Flask-Gamify benchmarks: ``python -m benchmarks`` (``make bench``) prints one table.

Every figure is a ratio against a baseline measured in the same run, with the absolute
values beside it. See ``docs/performance.rst``.
"""
