"""Benchmarks (run as scripts: ``python bench/<name>.py``). A package only so that gunicorn can serve
``bench.yardstick`` and ``bench.counting`` for ``bench/http_side_by_side.py``; not part of the installed wheel."""
