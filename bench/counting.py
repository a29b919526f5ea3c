"""What gunicorn serves for ``bench/http_side_by_side.py``: Trellis or the yardstick, wrapped to count SQL statements.

The PostgreSQL server has no ``pg_stat_statements`` preloaded (``bench/http_side_by_side.py`` checks), so the count
is taken where ``bench/api_lists.py`` takes it: SQLAlchemy's ``before_cursor_execute`` on every engine
(COMMIT/ROLLBACK are not statements here). Each request's count goes, when the response is closed, as one
line ``<count>\\n`` appended (O_APPEND, so the workers' lines never mix) to ``$BENCH_STATEMENTS_FILE``;
the bench sums the lines a phase added. Costs both apps the same one ``write`` per request.

``gunicorn 'bench.counting:trellis()'`` / ``'bench.counting:yardstick()'``.
"""
from __future__ import annotations

import os
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine

_local = threading.local()
_fds: dict[str, int] = {}   # per file name (one in a gunicorn worker)


@event.listens_for(Engine, "before_cursor_execute")
def _count(*_args) -> None:
    _local.n = getattr(_local, "n", 0) + 1


class _Closing:
    """The response body; writes the request's count when the server closes it."""

    def __init__(self, body):
        self._body = body

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            path = os.environ["BENCH_STATEMENTS_FILE"]
            fd = _fds.get(path)
            if fd is None:
                fd = _fds[path] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(fd, b"%d\n" % getattr(_local, "n", 0))


def counting(app):
    def wsgi(environ, start_response):
        _local.n = 0
        return _Closing(app(environ, start_response))
    return wsgi


def trellis():
    from api.wsgi import app   # builds the app from TRELLIS_* and gc.freeze()s it, as in production

    return counting(app)


def yardstick():
    from bench.yardstick import create_app

    return counting(create_app())
