"""Operations metrics for Prometheus: the metric objects every part of Trellis records into (HTTP requests,
job runs, webhook deliveries) and what a scrape reads at its own time (the database pool, the webhook
backlog). ``GET /metrics`` (api/prometheus.py) serves them; docs/deployment.md, "Metrics (Prometheus)",
lists them.

The metric objects are process-wide (``prometheus_client`` keeps its values per process, whatever the number
of apps). One process is one registry unless ``TRELLIS_METRICS_MULTIPROC_DIR`` names a directory: then
:func:`configure` puts ``prometheus_client`` in its multiprocess mode before the first value exists (it
sets ``PROMETHEUS_MULTIPROC_DIR`` for the library and its children, and switches the value class the library
chose at import), every process (gunicorn workers, ``trellis worker`` on the same host) writes its values
into a file of its own there, and a scrape adds all of them up (:func:`exposition`). Business metrics
(revenue, funnels) are another thing: core/metrics.py.
"""
from __future__ import annotations

import atexit
import os
import threading
from datetime import datetime, timezone
from typing import Any, Iterable

#: The label value of a request no URL rule matched (404, 405): raw paths never become labels.
UNMATCHED = "unmatched"
#: Methods counted by name; any other is ``other`` (a client chooses the method: labels stay bounded).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Seconds: a request or a job.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Seconds from a webhook delivery's queueing (the change's transaction) to its receiver's 2xx.
DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)
#: What became of a delivery attempt: sent (2xx), failed and retried later, failed for good.
DELIVERY_OUTCOMES = ("delivered", "retry", "failed")
_ENV = "PROMETHEUS_MULTIPROC_DIR"   # prometheus_client's own variable, set from the TRELLIS_ setting

_lock = threading.Lock()
_metrics: "Metrics | None" = None
_multiproc_dir: str = ""
#: The pool gauges' writers of the engines :func:`watch_pool` watches (multiprocess mode)
_watched: list = []
#: Whether this process recorded anything (a ``trellis db upgrade`` does not: its files go at its exit).
_recorded = False


class Metrics:
    """The metric objects, registered in no registry: each scrape builds its own (:func:`exposition`)."""

    def __init__(self, multiprocess: bool):
        from prometheus_client import Counter, Gauge, Histogram

        self.http_requests = Counter(
            "trellis_http_requests", "HTTP requests answered, by Flask endpoint, method and status code.",
            ["endpoint", "method", "status"], registry=None)
        self.http_duration = Histogram(
            "trellis_http_request_duration_seconds", "Time from the request's first hook to its response, by "
            "Flask endpoint and method.", ["endpoint", "method"], buckets=DURATION_BUCKETS, registry=None)
        self.job_runs = Counter("trellis_job_runs", "Background job runs (scheduled jobs and webhook rounds), "
                                "finished or failed, by job name.", ["job"], registry=None)
        self.job_failures = Counter("trellis_job_failures", "Background job runs that raised, by job name.",
                                    ["job"], registry=None)
        self.job_duration = Histogram("trellis_job_duration_seconds", "Background job run time, by job name.",
                                      ["job"], buckets=DURATION_BUCKETS, registry=None)
        self.webhook_deliveries = Counter(
            "trellis_webhook_deliveries", "Webhook delivery attempts by outcome: delivered (2xx), retry (failed, "
            "tried again later), failed (failed for good after the last attempt).", ["outcome"], registry=None)
        self.webhook_latency = Histogram(
            "trellis_webhook_delivery_latency_seconds", "Time from a webhook delivery's queueing (in the "
            "transaction of the change) to its receiver's 2xx, retries included.", buckets=DELIVERY_BUCKETS,
            registry=None)
        self.collectors: list = [self.http_requests, self.http_duration, self.job_runs, self.job_failures,
                                 self.job_duration, self.webhook_deliveries, self.webhook_latency]
        self.pool: dict[str, Any] = {}
        #: (endpoint, method, status) -> (the counter's child, the histogram's child)
        self.request_children: dict[tuple, tuple] = {}
        if multiprocess:   # a scrape sees one worker's pool: each process keeps its share in its own file
            for name, help_text in POOL_GAUGES.items():
                self.pool[name] = Gauge(name, help_text + " Summed over the live processes.",
                                        multiprocess_mode="livesum", registry=None)
        for outcome in DELIVERY_OUTCOMES:
            self.webhook_deliveries.labels(outcome)   # every outcome shows, at 0, before the first delivery


#: The database pool gauges (SQLAlchemy's QueuePool; a pool without these numbers shows none).
POOL_GAUGES = {
    "trellis_db_pool_checked_out": "Database connections in use (checked out of the pool).",
    "trellis_db_pool_size": "The pool's configured number of kept connections.",
    "trellis_db_pool_overflow": "Connections open beyond the pool size (negative: the pool is not yet full).",
}


def configure(directory: str) -> None:
    """Choose the process's mode once: ``directory`` (``TRELLIS_METRICS_MULTIPROC_DIR``) for multiprocess
    mode, empty for this process alone. Called by every ``create_app`` with its setting: a second app with
    another directory, or a directory after values were recorded alone, is a :class:`ConfigError` (the
    values would be split between two places); a second app without one records where the first does."""
    global _metrics, _multiproc_dir
    from core.errors import ConfigError

    directory = str(directory or "")
    with _lock:
        if not directory or directory == _multiproc_dir:
            return   # alone (made on first use), or already set up
        if _multiproc_dir:
            raise ConfigError(f"TRELLIS_METRICS_MULTIPROC_DIR: this process already writes its metrics to "
                              f"{_multiproc_dir!r}; one process has one directory.")
        if _metrics is not None:
            raise ConfigError("TRELLIS_METRICS_MULTIPROC_DIR: this process recorded metrics before the directory "
                              "was set; set it in the environment before the process starts.")
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"TRELLIS_METRICS_MULTIPROC_DIR: {directory!r} cannot be made: {exc.strerror}.") from None
        os.environ[_ENV] = directory   # read by prometheus_client when it opens a process's file
        from prometheus_client import values

        if not getattr(values.ValueClass, "_multiprocess", False):
            # chosen at import from the environment; every value made from now on is a file-backed one
            values.ValueClass = values.MultiProcessValue()
        _multiproc_dir = directory
        _metrics = Metrics(multiprocess=True)
        atexit.register(_mark_dead)


def multiproc_dir() -> str:
    """The multiprocess directory of this process, or ``""``."""
    return _multiproc_dir


def metrics() -> Metrics:
    """The process's metric objects (made on first use: one process alone, unless :func:`configure` chose
    a directory first)."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = Metrics(multiprocess=False)
    return _metrics


def _mark_dead() -> None:
    """At a process's exit: its live gauges (the pool) leave the sums (gunicorn's master does the same for a
    killed worker, api/gunicorn_conf.py); a process that recorded nothing (a ``trellis`` command other than
    ``worker``) takes its files, all zeros, along, so commands run often do not fill the directory."""
    import glob

    from prometheus_client import multiprocess

    try:
        multiprocess.mark_process_dead(os.getpid(), _multiproc_dir)
        if not _recorded:
            for path in glob.glob(os.path.join(_multiproc_dir, f"*_{os.getpid()}.db")):
                os.remove(path)
    except OSError:
        pass


# --- recording ----------------------------------------------------------------------------------------------

def request_finished(endpoint: str | None, method: str, status: int, seconds: float | None) -> None:
    global _recorded
    _recorded = True
    m = metrics()
    key = (endpoint or UNMATCHED, method if method in METHODS else "other", status)
    children = m.request_children.get(key)
    if children is None:   # labels() validates and locks: done once per combination (a bounded number)
        children = m.request_children[key] = (m.http_requests.labels(key[0], key[1], str(status)),
                                              m.http_duration.labels(key[0], key[1]))
    children[0].inc()
    if seconds is not None:
        children[1].observe(seconds)


def job_finished(name: str, ok: bool, seconds: float) -> None:
    global _recorded
    _recorded = True
    m = metrics()
    m.job_runs.labels(name).inc()
    if not ok:
        m.job_failures.labels(name).inc()
    m.job_duration.labels(name).observe(seconds)


def delivery_attempted(outcome: str, queued_at: datetime | None = None, now: datetime | None = None) -> None:
    """One attempt's ``outcome`` (:data:`DELIVERY_OUTCOMES`); a delivered one also observes its latency
    from ``queued_at``."""
    global _recorded
    _recorded = True
    m = metrics()
    m.webhook_deliveries.labels(outcome).inc()
    if outcome == "delivered" and queued_at is not None:
        now = now or datetime.now(timezone.utc)
        if queued_at.tzinfo is None:
            queued_at = queued_at.replace(tzinfo=timezone.utc)
        m.webhook_latency.observe(max(0.0, (now - queued_at).total_seconds()))


def pool_numbers(pool: Any) -> dict[str, float]:
    """The pool gauges' values read from ``pool`` now (only the numbers the pool class has)."""
    out = {}
    for name, method in (("trellis_db_pool_checked_out", "checkedout"), ("trellis_db_pool_size", "size"),
                         ("trellis_db_pool_overflow", "overflow")):
        read = getattr(pool, method, None)
        if callable(read):
            out[name] = float(read())
    return out


def watch_pool(engine: Any) -> None:
    """Multiprocess mode: keep this process's pool gauges current on every checkout and checkin (a scrape
    reads the files, not the pools of other processes). Alone, the scrape reads the pool itself."""
    if not _multiproc_dir:
        return
    from sqlalchemy import event

    gauges = metrics().pool
    if getattr(engine, "_trellis_pool_watched", False):
        return
    engine._trellis_pool_watched = True

    def update(*_args) -> None:   # engine.pool: dispose() replaces the pool (and keeps these listeners)
        for name, value in pool_numbers(engine.pool).items():
            gauges[name].set(value)

    def checked_in(*_args) -> None:
        # the event fires before the connection is back in the pool: it no longer counts as checked out
        numbers = pool_numbers(engine.pool)
        if "trellis_db_pool_checked_out" in numbers:
            numbers["trellis_db_pool_checked_out"] = max(0.0, numbers["trellis_db_pool_checked_out"] - 1)
        for name, value in numbers.items():
            gauges[name].set(value)

    event.listen(engine.pool, "checkout", update)
    event.listen(engine.pool, "checkin", checked_in)
    _watched.append(update)
    update()   # the size shows before the first checkout


def refresh_pool_gauges() -> None:
    """Write the watched pools' gauges again: in a gunicorn worker forked from a master that built the app
    (``--preload``), whose values start from nothing (api/gunicorn_conf.py, ``post_fork``)."""
    for update in list(_watched):
        update()


# --- scraping ---------------------------------------------------------------------------------------------

class PoolCollector:
    """The pool gauges, read from the engine's pool at scrape time (one process)."""

    def __init__(self, engine: Any):
        self.engine = engine

    def collect(self) -> Iterable:
        from prometheus_client.core import GaugeMetricFamily

        for name, value in pool_numbers(self.engine.pool).items():
            yield GaugeMetricFamily(name, POOL_GAUGES[name], value=value)


class BacklogCollector:
    """The webhook backlog, one query at scrape time: pending deliveries (due now or waiting for a retry)
    and how long the oldest due one has waited."""

    def __init__(self, runtime: Any):
        self.runtime = runtime

    def collect(self) -> Iterable:
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func, select

        from core.models.webhooks import WebhookDelivery

        now = datetime.now(timezone.utc)
        try:
            with self.runtime.database.engine.connect() as conn:
                conn = conn.execution_options(sqlite_begin="DEFERRED")   # a reader: never queues behind writers
                pending, oldest = conn.execute(
                    select(func.count(), func.min(WebhookDelivery.next_attempt_at))
                    .where(WebhookDelivery.status == "pending")).one()
        except Exception:   # the database is down: the scrape still answers, and says so
            yield GaugeMetricFamily("trellis_database_up", "1 when the scrape's backlog query succeeded.", value=0)
            return
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        waited = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily("trellis_database_up", "1 when the scrape's backlog query succeeded.", value=1)
        yield GaugeMetricFamily("trellis_webhook_backlog", "Webhook deliveries pending (due now or waiting "
                                "for a retry).", value=pending)
        yield GaugeMetricFamily("trellis_webhook_backlog_oldest_due_seconds", "How long the oldest pending "
                                "delivery has been due (0: none is due).", value=waited)


class _Registered:
    """The collectors of prometheus_client's default registry (the process's CPU, memory, GC; any library's
    metrics), for a scrape of one process."""

    def collect(self) -> Iterable:
        from prometheus_client import REGISTRY

        return REGISTRY.collect()


def exposition(runtime: Any, accept: str | None = None) -> tuple[bytes, str]:
    """The scrape's body and content type (the text format, or OpenMetrics when ``accept`` asks for it)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    registry = CollectorRegistry(auto_describe=False)
    if _multiproc_dir:
        from prometheus_client import multiprocess

        metrics()
        multiprocess.MultiProcessCollector(registry, path=_multiproc_dir)
    else:
        for collector in metrics().collectors:
            registry.register(collector)
        registry.register(_Registered())
        registry.register(PoolCollector(runtime.database.engine))
    registry.register(BacklogCollector(runtime))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
