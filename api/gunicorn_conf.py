"""gunicorn's configuration hooks for Trellis: ``gunicorn -c python:api.gunicorn_conf -w 4 … 'api.wsgi:app'``.

Only what several workers need for ``GET /metrics`` (docs/deployment.md, "Metrics (Prometheus)"); every
other gunicorn setting stays on the command line. With ``TRELLIS_METRICS_MULTIPROC_DIR`` set, each worker
writes its counters into a file of its own in that directory and a scrape (answered by any one worker)
adds them all up:

- ``on_starting`` (the master, before the first worker): removes the files of processes that no longer
  run, left by the previous start (a ``trellis worker`` on the same host, still running, keeps its own),
  and the master's own pool gauges (with ``--preload`` it built the app, but it serves no request).
- ``post_fork`` (a new worker): writes its pool gauges (with ``--preload`` its values start from nothing).
- ``child_exit`` (a worker ended, recycled or killed): its live gauges (the database pool) leave the sums;
  its counters stay, so totals never go down while gunicorn runs.

Without the setting the hooks do nothing. Settings are read by :func:`core.config.load_settings`, as
everywhere; nothing here is a gunicorn setting (gunicorn reads this module's public names as settings, so
helpers are private).
"""
from __future__ import annotations

import glob as _glob
import os as _os


def _directory() -> str:
    from core.config import load_settings

    settings = load_settings(strict=False)
    return settings.metrics_multiproc_dir if settings.metrics_enabled else ""


def _running(pid: int) -> bool:
    try:
        _os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process: running
        return True
    return True


def remove_ended(directory: str) -> list[str]:
    """Remove the metric files of processes that no longer run; return their names."""
    removed = []
    for path in _glob.glob(_os.path.join(directory, "*.db")):
        pid = _os.path.basename(path)[:-3].rpartition("_")[2]
        if pid.isdigit() and int(pid) != _os.getpid() and not _running(int(pid)):
            try:
                _os.remove(path)
                removed.append(_os.path.basename(path))
            except FileNotFoundError:
                pass
    return removed


def on_starting(server) -> None:
    directory = _directory()
    if directory:
        _os.makedirs(directory, exist_ok=True)
        removed = remove_ended(directory)
        if removed:
            server.log.info("metrics: removed %d file(s) of ended processes from %s", len(removed), directory)
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(_os.getpid(), directory)


def child_exit(server, worker) -> None:
    directory = _directory()
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, directory)


def post_fork(server, worker) -> None:
    if _directory():
        from core import prometheus

        prometheus.refresh_pool_gauges()
