"""Benchmarks (run as scripts: ``python bench/<name>.py``). A package only so that gunicorn can serve
``bench.yardstick`` and ``bench.counting`` for ``bench/http.py``; not part of the installed wheel."""
