"""``GET /metrics`` (issue #16, item 7): what a Prometheus scrape shows after requests, job runs and webhook
deliveries; who may scrape (a token, or an allowed address, never a user's credentials); several worker
processes added up in one scrape through ``TRELLIS_METRICS_MULTIPROC_DIR``. No timing assertions: only
counts, and that the series exist."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.testing import app_config, scratch_database
from core import prometheus, queue
from core.config import load_settings
from core.db import utcnow
from core.errors import ConfigError
from core.jobs import Job
from core.services import webhooks
from tests.core.test_webhooks import Receiver

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def scrape(client, **kwargs) -> dict:
    """``{(sample name, frozenset(labels)): value}`` of one scrape (which must answer 200)."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain")
    return parse(response.get_data(as_text=True))


def parse(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- requests -------------------------------------------------------------------------------------------------

def test_requests_are_counted_by_endpoint_method_and_status_never_by_path(api, client):
    before = scrape(client)
    customer = api.post("/api/v1/customers", json={"name": "Counted Ltd"}).get_json()
    assert api.get(f"/api/v1/customers/{customer['id']}").status_code == 200
    assert api.get(f"/api/v1/customers/{customer['id']}").status_code == 200
    assert api.get("/api/v1/customers/00000000-0000-0000-0000-000000000000").status_code == 404
    assert api.get("/api/v1/no-such-thing/42").status_code == 404
    assert api.as_(None).get("/api/v1/customers").status_code == 401
    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    after = parse(text)

    endpoint = "customers.Item"
    delta = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert delta("trellis_http_requests_total", endpoint=endpoint, method="GET", status="200") == 2
    assert delta("trellis_http_requests_total", endpoint=endpoint, method="GET", status="404") == 1
    assert delta("trellis_http_requests_total", endpoint="customers.Collection", method="POST", status="201") == 1
    assert delta("trellis_http_requests_total", endpoint="customers.Collection", method="GET", status="401") == 1
    assert delta("trellis_http_requests_total", endpoint="unmatched", method="GET", status="404") == 1
    # the latency histogram: every bucket, the last one counting every request of the endpoint
    buckets = {dict(labels)["le"] for (name, labels) in after
               if name == "trellis_http_request_duration_seconds_bucket" and dict(labels)["endpoint"] == endpoint}
    assert {"0.005", "0.1", "1.0", "+Inf"} <= buckets
    assert delta("trellis_http_request_duration_seconds_bucket", endpoint=endpoint, method="GET", le="+Inf") == 3
    assert delta("trellis_http_request_duration_seconds_count", endpoint=endpoint, method="GET") == 3
    # bounded labels: ids and unknown paths never become one
    assert customer["id"] not in text and "no-such-thing" not in text


def test_an_unusual_method_is_counted_as_other(client):
    before = scrape(client)
    client.open("/healthz", method="BREW")
    after = scrape(client)
    assert value(after, "trellis_http_requests_total", endpoint="unmatched", method="other", status="405") \
        - value(before, "trellis_http_requests_total", endpoint="unmatched", method="other", status="405") == 1


def test_the_pool_gauges_and_the_webhook_series_are_there_before_anything_happened(client):
    samples = scrape(client)
    names = {name for name, _labels in samples}
    assert {"trellis_db_pool_checked_out", "trellis_db_pool_size", "trellis_db_pool_overflow",
            "trellis_webhook_backlog", "trellis_webhook_backlog_oldest_due_seconds", "trellis_database_up"} <= names
    assert value(samples, "trellis_db_pool_size") >= 1
    assert value(samples, "trellis_database_up") == 1
    for outcome in ("delivered", "retry", "failed"):
        assert ("trellis_webhook_deliveries_total", frozenset({("outcome", outcome)})) in samples


# --- jobs -------------------------------------------------------------------------------------------------------

def test_job_runs_failures_and_durations_are_counted_by_job_name(runtime, client):
    def broken(_now):
        raise RuntimeError("out of paper")

    fine, failing = Job("test.metrics_fine", lambda now: "done"), Job("test.metrics_broken", broken)
    before = scrape(client)
    queue.run_job(runtime, fine)
    queue.run_job(runtime, fine)
    with pytest.raises(RuntimeError):
        queue.run_job(runtime, failing)
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("trellis_job_runs_total", job="test.metrics_fine") == 2
    assert delta("trellis_job_failures_total", job="test.metrics_fine") == 0
    assert delta("trellis_job_runs_total", job="test.metrics_broken") == 1
    assert delta("trellis_job_failures_total", job="test.metrics_broken") == 1
    assert delta("trellis_job_duration_seconds_count", job="test.metrics_fine") == 2
    assert delta("trellis_job_duration_seconds_bucket", job="test.metrics_broken", le="+Inf") == 1


# --- webhooks (a database of their own: the deliveries commit, as a worker's do) ----------------------------------

@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """An app on a database of its own (migrated), whose receivers on 127.0.0.1 are allowed."""
    from core.migrate import upgrade

    with scratch_database(tmp_path_factory.mktemp("prom") / "own.db", name="trellis_prom") as url:
        app = create_app(app_config(url, PLUGINS="none", WEBHOOK_ALLOW_PRIVATE_TARGETS=True))
        app.config["TESTING"] = True
        runtime = app.extensions["trellis"]
        upgrade(runtime)
        try:
            yield app
        finally:
            runtime.database.dispose()


def test_webhook_deliveries_latency_and_backlog(own, monkeypatch):
    from core.services import customers, users

    runtime, client = own.extensions["trellis"], own.test_client()
    good, bad = Receiver(), Receiver()
    bad.status = 500
    try:
        with runtime.database.unit_of_work():
            admin = users.create_user(None, {"email": "prom-admin@example.com", "role": "admin"})
            webhooks.create(admin, {"url": good.url, "events": ["customer.created"]})
            webhooks.create(admin, {"url": bad.url, "events": ["customer.created"]})
        before = scrape(client)
        with runtime.database.unit_of_work():
            customers.create(admin, {"name": "Hooked Ltd"})
        queued = scrape(client)
        assert value(queued, "trellis_webhook_backlog") == value(before, "trellis_webhook_backlog") + 2

        monkeypatch.setattr(runtime, "settings", replace(runtime.settings, webhook_max_attempts=2))
        assert queue.deliver_now(runtime) == 2      # the round a commit defers (a job like the others)
        first = scrape(client)
        assert len(good.requests) == 1 and len(bad.requests) == 1
        # the next attempt of the failed one, once due: its last
        webhooks.deliver_due(utcnow() + timedelta(days=2), runtime=runtime)
        last = scrape(client)
    finally:
        good.stop()
        bad.stop()

    def delta(later, name, **labels):
        return value(later, name, **labels) - value(before, name, **labels)

    assert delta(first, "trellis_webhook_deliveries_total", outcome="delivered") == 1
    assert delta(first, "trellis_webhook_deliveries_total", outcome="retry") == 1
    assert delta(first, "trellis_webhook_deliveries_total", outcome="failed") == 0
    assert delta(first, "trellis_webhook_delivery_latency_seconds_count") == 1
    assert delta(first, "trellis_webhook_delivery_latency_seconds_bucket", le="+Inf") == 1
    assert delta(first, "trellis_job_runs_total", job=queue.DELIVER_TASK) == 1
    assert value(first, "trellis_webhook_backlog") == value(before, "trellis_webhook_backlog") + 1   # the retry
    assert delta(last, "trellis_webhook_deliveries_total", outcome="failed") == 1
    assert delta(last, "trellis_webhook_delivery_latency_seconds_count") == 1   # failures have no latency
    assert value(last, "trellis_webhook_backlog") == value(before, "trellis_webhook_backlog")


# --- who may scrape ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.7", "8.8.8.8", "2001:db8::1"])
def test_without_a_token_other_addresses_get_403(client, address):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 403
    assert "TRELLIS_METRICS_ALLOW" in response.get_json()["message"]


def test_without_a_token_loopback_answers_but_not_through_an_untrusted_proxy(client):
    assert client.get("/metrics", environ_base=LOCAL).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    # a proxy on the same host forwarding a stranger: the address seen is loopback, the client is not known
    forwarded = client.get("/metrics", environ_base=LOCAL, headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 403


def test_a_users_credentials_do_not_open_metrics(client, tokens):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"},
                          headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert response.status_code == 403


@pytest.fixture(scope="module")
def guarded(engine, database_url):
    """Apps with a metrics token, with another allow list, and with metrics off."""
    apps = {
        "token": create_app(app_config(database_url, PLUGINS="none", METRICS_TOKEN="scrape-me-7f3a")),
        "allow": create_app(app_config(database_url, PLUGINS="none", METRICS_ALLOW="10.0.0.0/8, 2001:db8::/32")),
        "off": create_app(app_config(database_url, PLUGINS="none", METRICS_ENABLED=False)),
    }
    yield apps
    for app in apps.values():
        app.extensions["trellis"].database.dispose()


def test_with_a_token_only_its_bearer_gets_the_metrics_from_anywhere(guarded, runtime, tokens):
    client = guarded["token"].test_client()
    assert client.get("/metrics", environ_base=LOCAL).status_code == 401   # loopback is no longer enough
    for header in ("Bearer wrong", "Bearer scrape-me-7f3", "scrape-me-7f3a", "Basic scrape-me-7f3a",
                   f"Bearer {tokens['admin']}"):
        response = client.get("/metrics", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert "TRELLIS_METRICS_TOKEN" in response.get_json()["message"]
    samples = scrape(client, environ_base={"REMOTE_ADDR": "203.0.113.9"},
                     headers={"Authorization": "Bearer scrape-me-7f3a"})
    assert ("trellis_db_pool_size", frozenset()) in samples


def test_the_allow_list_is_a_setting(guarded):
    client = guarded["allow"].test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::5"}).status_code == 200
    assert client.get("/metrics", environ_base=LOCAL).status_code == 403


def test_metrics_off_is_no_endpoint(guarded):
    assert guarded["off"].test_client().get("/metrics", environ_base=LOCAL).status_code == 404


def test_a_bad_allow_list_stops_the_start_naming_the_variable():
    with pytest.raises(ConfigError, match="TRELLIS_METRICS_ALLOW: 'intranet'"):
        load_settings({"METRICS_ALLOW": "127.0.0.1/32,intranet"})


def test_metrics_is_declared_public_and_not_in_the_openapi_document(api):
    from api.auth import PUBLIC_ENDPOINTS

    assert "metrics" in PUBLIC_ENDPOINTS   # its own check, never the sign-in's
    paths = api.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/metrics" not in paths and "/healthz" not in paths   # (/api/v1/metrics: the business metrics)


def test_a_process_that_recorded_alone_refuses_a_directory_later(tmp_path):
    prometheus.metrics()
    with pytest.raises(ConfigError, match="TRELLIS_METRICS_MULTIPROC_DIR"):
        prometheus.configure(str(tmp_path / "late"))
    assert not (tmp_path / "late").exists() and prometheus.multiproc_dir() == ""


# --- several processes ----------------------------------------------------------------------------------------

WORKER = textwrap.dedent("""
    import json, sys
    from api.app import create_app
    from api.testing import app_config
    from core import queue

    url, directory, requests, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    app = create_app(app_config(url, PLUGINS="none", METRICS_MULTIPROC_DIR=directory))
    if mode == "idle":   # a `trellis db upgrade`, say: records nothing
        sys.exit(0)
    client = app.test_client()
    for _ in range(requests):
        assert client.get("/healthz").status_code == 200
    queue.deliver_now(app.extensions["trellis"])
    if mode == "scrape":
        sys.stdout.write(client.get("/metrics").get_data(as_text=True))
""")


def test_two_processes_writing_to_one_directory_are_added_up_in_one_scrape(engine, database_url, tmp_path):
    """What several gunicorn workers (and a ``trellis worker`` on the same host) do: each process writes its
    own file in the directory the setting names; a scrape answered by any of them adds them all up."""
    directory = tmp_path / "prometheus"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "prometheus_"))}
    env["PYTHONPATH"] = str(ROOT)

    def run(requests: int, mode: str = "work") -> str:
        done = subprocess.run([sys.executable, "-c", WORKER, database_url, str(directory), str(requests), mode],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run(3)
    run(4)
    run(0, "idle")
    samples = parse(run(0, "scrape"))
    assert value(samples, "trellis_http_requests_total", endpoint="healthz", method="GET", status="200") == 7
    assert value(samples, "trellis_http_request_duration_seconds_count", endpoint="healthz", method="GET") == 7
    assert value(samples, "trellis_job_runs_total", job=queue.DELIVER_TASK) == 3
    # the pool gauges of the live processes (the ended ones left the sum at their exit)
    assert ("trellis_db_pool_size", frozenset()) in samples
    assert value(samples, "trellis_db_pool_checked_out") == 0
    assert ("trellis_webhook_backlog", frozenset()) in samples
    # what is left: the counters and histograms of the three processes that recorded something (their live
    # gauges went at their exit; the idle one took all its files along)
    files = sorted(p.name.rpartition("_")[0] for p in directory.iterdir())
    assert files == ["counter"] * 3 + ["histogram"] * 3


def test_gunicorns_start_removes_only_the_files_of_ended_processes(tmp_path):
    from api.gunicorn_conf import remove_ended

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(ended.stdout), os.getpid()
    for name in (f"counter_{dead}.db", f"gauge_livesum_{dead}.db", f"counter_{alive}.db", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert sorted(remove_ended(str(tmp_path))) == [f"counter_{dead}.db", f"gauge_livesum_{dead}.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{alive}.db", "notes.txt"]


def _get(url: str, timeout: float = 10) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.parametrize("preload", [False, True], ids=["app-per-worker", "preload"])
def test_several_gunicorn_workers_are_added_up_and_a_killed_workers_counts_stay(engine, database_url, tmp_path,
                                                                               preload):
    """gunicorn with 2 workers and Trellis' hooks: requests served by workers that are then killed (and
    replaced) still count in the scrape a new worker answers; the killed workers' pool gauges are gone. With
    ``--preload`` the master built the app too: its pool is not counted (it serves nothing)."""
    import signal
    import socket
    import time

    directory = tmp_path / "prometheus"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "prometheus_", "TRELLIS_"))}
    env.update(PYTHONPATH=str(ROOT), TRELLIS_DATABASE_URL=database_url, TRELLIS_PLUGINS="none",
               TRELLIS_SECRET_KEY="test", TRELLIS_METRICS_MULTIPROC_DIR=str(directory))
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "-w", "2", "-b",
                                   f"127.0.0.1:{port}", *(["--preload"] if preload else []), "api.wsgi:app"], env=env, cwd=tmp_path, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"

    def workers() -> set[int]:   # the live workers: each keeps its pool gauges in a file of its own
        return {int(p.stem.rpartition("_")[2]) for p in directory.glob("gauge_livesum_*.db")}

    def wait_for(condition, what: str):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if condition():
                    return
            time.sleep(0.2)
        raise AssertionError(f"gunicorn: {what} did not happen; its log ends: {log.read_text()[-3000:]}")

    try:
        wait_for(lambda: _get(base + "/healthz")[0] == 200 and len(workers()) == 2, "two workers answering")
        for _ in range(10):
            assert _get(base + "/healthz")[0] == 200
        first = workers()
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: len(workers() - first) == 2 and not workers() & first, "two new workers")
        wait_for(lambda: _get(base + "/metrics")[0] == 200, "a scrape")
        status, text = _get(base + "/metrics")
    finally:
        server.terminate()
        server.wait(timeout=60)
    samples = parse(text)
    healthz = value(samples, "trellis_http_requests_total", endpoint="healthz", method="GET", status="200")
    assert healthz >= 11   # the 10 above (and the polls), all served by the killed workers
    assert value(samples, "trellis_db_pool_size") == 2 * 5   # the live workers' pools (SQLAlchemy's 5 each)
    # the killed workers' counters stay, their live gauges went with them (child_exit)
    pids = {int(p.stem.rpartition("_")[2]) for p in directory.glob("counter_*.db")}
    assert first <= pids
    assert not {int(p.stem.rpartition("_")[2]) for p in directory.glob("gauge_livesum_*.db")} & first
