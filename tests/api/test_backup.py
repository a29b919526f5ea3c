"""``trellis db backup`` / ``restore`` / ``check`` on SQLite files of their own (whatever database the rest
of the suite runs on): a restored copy passes the check and serves the same data as the original did."""
from __future__ import annotations

import contextlib
import sqlite3
import uuid

import pytest

from api.app import create_app
from tests.api.test_cli import run
from api.testing import FAST_HASH


def env_for(path) -> dict:
    return {"TRELLIS_DATABASE_URL": f"sqlite:///{path}", "TRELLIS_PASSWORD_HASH_METHOD": FAST_HASH,
            "TRELLIS_SECRET_KEY": "test", "TRELLIS_INSTANCE_PATH": str(path.parent / "instance"),
            "TRELLIS_PLUGINS": "all"}


@contextlib.contextmanager
def web(env):
    app = create_app({"DATABASE_URL": env["TRELLIS_DATABASE_URL"], "PASSWORD_HASH_METHOD": FAST_HASH,
                      "SECRET_KEY": "test"})
    try:
        yield app.test_client()
    finally:
        app.extensions["trellis"].database.dispose()


def customers(env, token) -> list[tuple[str, str]]:
    with web(env) as client:
        response = client.get("/api/v1/customers?page_size=100", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_json()
        return sorted((c["id"], c["name"]) for c in response.get_json())


def add_customer(env, token, name) -> dict:
    with web(env) as client:
        response = client.post("/api/v1/customers", json={"name": name},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def live(tmp_path):
    env = env_for(tmp_path / "live.db")
    assert run(env, "db", "upgrade").exit_code == 0
    assert run(env, "users", "create", "admin@example.com", "--role", "admin", "--password", "long-password").exit_code == 0
    token = run(env, "tokens", "create", "admin@example.com").stdout.strip()
    for name in ("Acme Ltd", "Bright Tea", "Chen Wei"):
        add_customer(env, token, name)
    return env, token


def test_a_backup_restored_to_a_new_file_passes_check_and_answers_the_same_customers(live, tmp_path):
    env, token = live
    before = customers(env, token)
    backup_file = tmp_path / "backup.db"
    result = run(env, "db", "backup", str(backup_file))
    assert result.exit_code == 0, result.output
    assert backup_file.stat().st_size > 0
    again = run(env, "db", "backup", str(backup_file))
    assert again.exit_code == 1 and "exists" in again.stderr  # a backup is never overwritten
    add_customer(env, token, "After The Backup Ltd")  # the live database moves on

    copy = env_for(tmp_path / "copy.db")
    restored = run(copy, "db", "restore", str(backup_file), "--yes")
    assert restored.exit_code == 0, restored.output
    check = run(copy, "db", "check")
    assert check.exit_code == 0, check.output
    assert "No differences" in check.stdout and "foreign keys: ok" in check.stdout and "integrity: ok" in check.stdout
    assert "  customer: 3" in check.stdout and "(head)" in check.stdout
    assert customers(copy, token) == before  # the same rows, and the same users and tokens

    # restoring over the live database takes it back to the backup
    assert run(env, "db", "restore", str(backup_file), "--yes").exit_code == 0
    assert customers(env, token) == before


def test_restore_refuses_a_file_that_is_not_a_trellis_backup_and_changes_nothing(live, tmp_path):
    env, token = live
    before = customers(env, token)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    result = run(env, "db", "restore", str(junk), "--yes")
    assert result.exit_code == 1 and "not an SQLite database" in result.stderr and "Traceback" not in result.output
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    result = run(env, "db", "restore", str(empty), "--yes")
    assert result.exit_code == 1 and "not an intact Trellis database" in result.stderr
    assert run(env, "db", "restore", str(empty)).exit_code == 2  # not interactive: --yes is required
    assert customers(env, token) == before


def test_db_check_finds_rows_pointing_at_nothing(live, tmp_path):
    env, _ = live
    path = env["TRELLIS_DATABASE_URL"].removeprefix("sqlite:///")
    conn = sqlite3.connect(path)  # foreign keys are off on a bare connection: the damage goes in
    conn.execute("INSERT INTO contact (id, customer_id, name, title, phone, mobile, email, wechat, notes, is_primary, "
                 "created_at, updated_at, version) VALUES (?, ?, 'Ghost', '', '', '', '', '', '', 0, "
                 "'2026-01-01', '2026-01-01', 1)", (uuid.uuid4().hex, uuid.uuid4().hex))
    conn.commit()
    conn.close()
    result = run(env, "db", "check")
    assert result.exit_code == 1
    assert "foreign keys: contact row" in result.stdout and "point at rows that do not exist" in result.stderr


def test_db_check_reports_a_component_behind_its_head(tmp_path):
    env = env_for(tmp_path / "old.db")
    assert run(env, "db", "upgrade", "core@f5a0692029ed").exit_code == 0
    result = run(env, "db", "check")
    assert result.exit_code == 1 and "trellis db upgrade" in result.stderr
    assert "exhibitions: not migrated (behind" in result.stdout


def test_postgresql_backup_and_restore_go_through_pg_dump_and_pg_restore(tmp_path):
    import shutil

    from sqlalchemy import text

    from core.config import test_database_url
    from core.db import make_engine

    base = test_database_url()
    if not base.startswith("postgresql") or not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("needs TRELLIS_TEST_DATABASE_URL on PostgreSQL and the PostgreSQL client tools")
    names = [f"trellis_backup_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    server = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    root = base.split("?")[0].rsplit("/", 1)[0]
    with server.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        source, target = ({**env_for(tmp_path / "unused.db"), "TRELLIS_DATABASE_URL": f"{root}/{name}"} for name in names)
        assert run(source, "db", "upgrade").exit_code == 0
        assert run(source, "users", "create", "admin@example.com", "--role", "admin", "--password", "long-password").exit_code == 0
        token = run(source, "tokens", "create", "admin@example.com").stdout.strip()
        add_customer(source, token, "Dumped Ltd")
        dump = tmp_path / "trellis.dump"
        assert run(source, "db", "backup", str(dump)).exit_code == 0
        assert run(target, "db", "restore", str(dump), "--yes").exit_code == 0
        check = run(target, "db", "check")
        assert check.exit_code == 0 and "  customer: 1" in check.stdout, check.output
        assert customers(target, token) == customers(source, token)
    finally:
        with server.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_db_scrub_switches_every_webhook_off_rotates_its_secret_and_drops_its_pending_deliveries(live):
    env, token = live
    with web(env) as client:   # production's receiver, as the backup knows it
        created = client.post("/api/v1/webhooks", json={"url": "https://crm-hooks.example.com/in", "events": ["*"]},
                              headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201, created.get_json()
    sub = created.get_json()
    add_customer(env, token, "Queued Before The Backup")   # a delivery pending for the receiver

    result = run(env, "db", "scrub", "--yes")

    assert result.exit_code == 0, result.output
    assert "1 webhook subscription(s) switched off, 1 pending deliveries dropped" in result.stdout
    with contextlib.closing(sqlite3.connect(env["TRELLIS_DATABASE_URL"].removeprefix("sqlite:///"))) as db:
        active, secret = db.execute("SELECT active, secret FROM webhook_subscription").fetchone()
        statuses = db.execute("SELECT status, last_error FROM webhook_delivery").fetchall()
        audit = db.execute("SELECT action, changes FROM audit_entry WHERE record_id = ? ORDER BY at",
                           (uuid.UUID(sub["id"]).hex,)).fetchall()
    assert active == 0
    assert secret.startswith("whsec_") and secret != sub["secret"]
    assert statuses == [("failed", "Not sent: the database was scrubbed as a non-production copy "
                                   "('trellis db scrub').")]
    assert [action for action, _ in audit] == ["webhook_subscription.created", "webhook_subscription.updated"]
    assert sub["secret"] not in audit[-1][1]   # the trail never holds a secret, old or new


def test_db_scrub_refuses_a_production_database_and_changes_nothing(live):
    env, token = live
    env = {**env, "TRELLIS_ENV": "production", "TRELLIS_SECRET_KEY": "a-long-production-secret-key-for-the-test"}

    result = run(env, "db", "scrub", "--yes")

    assert result.exit_code != 0
    assert "never for the production database" in result.output
