"""Migrations: one Alembic branch per component, built from the models and never drifting from them."""
from __future__ import annotations

import contextlib
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic.operations import ops
from alembic.util import CommandError
from sqlalchemy import JSON, Float, ForeignKey, Integer, String, inspect, text
from sqlalchemy.orm import Mapped, mapped_column

from api import testing
from api.app import create_app
from core import migrate
from core.db import Base, UTCDateTime, UUIDPrimaryKey
from core.hookspecs import hookimpl

CORE_VERSIONS = Path(migrate.__file__).parent / "migrations" / "versions"
THROWAWAY_VERSIONS = Path(__file__).parent / "migration_plugin" / "versions"


# --- two throwaway plugins: one with a committed versions folder, one that writes its own --------------

class ThrowawayItem(Base, UUIDPrimaryKey):
    __tablename__ = "throwaway_item"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(80))


class ScratchpadThing(Base, UUIDPrimaryKey):
    __tablename__ = "scratchpad_thing"

    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       nullable=True)
    title: Mapped[str] = mapped_column(String(120), default="")
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def make_plugin(name: str, model, versions: Path):
    return SimpleNamespace(
        name=name, version="0.0.1",
        trellis_models=hookimpl(lambda: [model]),
        trellis_migrations=hookimpl(lambda: versions),
    )


throwaway = make_plugin("throwaway", ThrowawayItem, THROWAWAY_VERSIONS)


def scratch_database(tmp_path: Path):
    """A database of its own (an SQLite file, or a fresh schema on the test PostgreSQL server)."""
    return testing.scratch_database(tmp_path / "scratch.db")


@contextlib.contextmanager
def runtime_for(url: str, *plugins):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test"}, extra_plugins=plugins)
    runtime = app.extensions["trellis"]
    try:
        yield runtime
    finally:
        runtime.database.dispose()


CORE_ONLY = SimpleNamespace(plugins=SimpleNamespace(call_each=lambda hook: [("core", CORE_VERSIONS)]))


def core_head() -> str:
    return migrate.script_directory(CORE_ONLY).get_revision("core@head").revision


# --- the shared test database -------------------------------------------------------------------------

def test_models_and_migrations_agree(app):
    """Autogenerate finds nothing to do: every model change came with its migration."""
    assert migrate.check(app.extensions["trellis"]) == []


def test_upgrade_is_idempotent(app):
    runtime = app.extensions["trellis"]
    before = migrate.current(runtime)
    migrate.upgrade(runtime)
    migrate.upgrade(runtime)
    assert migrate.current(runtime) == before == migrate.heads(runtime)
    assert before["core"] is not None


def test_core_branch_is_labelled_core():
    revisions = list(migrate.script_directory(CORE_ONLY).walk_revisions())
    first = [r for r in revisions if r.down_revision is None]
    assert len(first) == 1 and first[0].branch_labels == {"core"}


def test_migrations_import_no_application_code():
    for path in list(CORE_VERSIONS.glob("*.py")) + list(THROWAWAY_VERSIONS.glob("*.py")):
        imports = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", path.read_text(), flags=re.M)
        # pathlib and procrastinate: the revision creating the job queue's schema reads it from the package;
        # re and unicodedata: the match keys' revision carries its own copy of the normalisation
        assert set(imports) <= {"typing", "sqlalchemy", "alembic", "pathlib", "procrastinate", "re",
                                "unicodedata"}, path.name


# --- plugin branches ----------------------------------------------------------------------------------

def test_plugin_branch_upgrades_after_the_core(tmp_path):
    with scratch_database(tmp_path) as url, runtime_for(url, throwaway) as runtime:
        assert list(migrate.version_locations(runtime))[0] == "core"
        # asking for the plugin's head alone brings the core first: the branch depends on it
        migrate.upgrade(runtime, "throwaway@head")
        tables = set(inspect(runtime.database.engine).get_table_names())
        assert {"customer", "user_account", "throwaway_item"} <= tables
        current = migrate.current(runtime)
        assert current["throwaway"] == "5e1f2a9c0b7d" and current["core"] is not None
        migrate.upgrade(runtime)
        current = migrate.current(runtime)
        assert current == migrate.heads(runtime)
        assert current["core"] == core_head() and current["throwaway"] == "5e1f2a9c0b7d"
        assert migrate.check(runtime) == []


def test_a_disabled_plugins_branch_and_tables_are_left_alone(tmp_path):
    with scratch_database(tmp_path) as url:
        with runtime_for(url, throwaway) as runtime:
            migrate.upgrade(runtime)
        with runtime_for(url) as runtime:  # the plugin is gone (uninstalled or disabled)
            migrate.upgrade(runtime)
            assert migrate.check(runtime) == []
            assert "throwaway_item" in inspect(runtime.database.engine).get_table_names()
            with runtime.database.engine.connect() as conn:
                versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
            assert "5e1f2a9c0b7d" in versions
        with runtime_for(url, throwaway) as runtime:  # and it comes back where it was
            migrate.upgrade(runtime)
            assert migrate.current(runtime)["throwaway"] == "5e1f2a9c0b7d"


def test_revision_starts_a_plugin_branch_that_depends_on_the_core(tmp_path):
    versions = tmp_path / "scratchpad_versions"
    scratchpad = make_plugin("scratchpad", ScratchpadThing, versions)
    with scratch_database(tmp_path) as url, runtime_for(url, scratchpad) as runtime:
        migrate.upgrade(runtime)  # the core; the plugin's folder does not exist yet
        path = migrate.revision(runtime, "scratchpad", "scratchpad things")
        assert path.parent == versions.resolve()
        source = path.read_text()
        assert "branch_labels: Union[str, Sequence[str], None] = ('scratchpad',)" in source
        assert f"depends_on: Union[str, Sequence[str], None] = '{core_head()}'" in source
        assert "op.create_table('scratchpad_thing'" in source
        assert "customer" not in source  # only the plugin's own tables are compared
        assert "sa.DateTime(timezone=True)" in source  # not core.db.UTCDateTime: no application import
        assert not re.search(r"^\s*(from|import) core", source, flags=re.M)
        migrate.upgrade(runtime)
        assert "scratchpad_thing" in inspect(runtime.database.engine).get_table_names()
        assert migrate.check(runtime) == []
        second = migrate.revision(runtime, "scratchpad", "nothing yet", autogenerate=False)
        assert f"down_revision: Union[str, Sequence[str], None] = '{path.name.split('_')[0]}'" in second.read_text()


def test_revision_needs_a_component_with_migrations(app):
    from core.errors import PluginError

    with pytest.raises(PluginError, match="no migrations folder"):
        migrate.revision(app.extensions["trellis"], "nobody", "x")


@pytest.mark.parametrize("op", [ops.DropTableOp("customer"), ops.DropColumnOp("customer", "notes")])
def test_autogenerate_refuses_to_drop_data(op):
    script = ops.MigrationScript("x", ops.UpgradeOps([op]), ops.DowngradeOps([]))
    with pytest.raises(CommandError, match="never drop data"):
        migrate.refuse_drops(None, None, [script])


def test_generated_downgrades_are_empty():
    script = ops.MigrationScript("x", ops.UpgradeOps([]), ops.DowngradeOps([ops.DropTableOp("scratchpad_thing")]))
    migrate.refuse_drops(None, None, [script])
    assert script.downgrade_ops.ops == []


LATER_CORE_REVISION = '''"""A later core revision (test only)"""
import sqlalchemy as sa
from alembic import op

revision = "ffff00000001"
down_revision = %r
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("later_thing", sa.Column("id", sa.Integer(), primary_key=True))
'''


def version_rows(runtime) -> set[str]:
    with runtime.database.engine.connect() as conn:
        return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_the_core_moves_on_after_a_plugin_branch_and_the_plugin_can_still_leave(tmp_path):
    import shutil

    core_versions = tmp_path / "core_versions"
    shutil.copytree(CORE_VERSIONS, core_versions, ignore=shutil.ignore_patterns("__pycache__"))
    (core_versions / "ffff00000001_later.py").write_text(LATER_CORE_REVISION % core_head())

    with scratch_database(tmp_path) as url, runtime_for(url, throwaway) as real:
        migrate.upgrade(real)
        # Alembic alone would keep only the plugin's row (the core's is implied by the dependency)
        assert {core_head(), "5e1f2a9c0b7d"} <= version_rows(real)
        others = version_rows(real) - {core_head(), "5e1f2a9c0b7d"}  # the built-in plugins' branches

        def later(with_plugin: bool):
            locations = [("core", core_versions)] + ([("throwaway", THROWAWAY_VERSIONS)] if with_plugin else [])
            return SimpleNamespace(plugins=SimpleNamespace(call_each=lambda hook: locations),
                                   database=real.database, tables=dict(real.tables))

        migrate.upgrade(later(True))  # the built-in plugins' rows are unknown to this runtime: kept as they are
        assert version_rows(real) == {"ffff00000001", "5e1f2a9c0b7d"} | others
        migrate.upgrade(later(False))
        assert migrate.current(later(False)) == {"core": "ffff00000001"}
        assert migrate.current(later(True)) == {"core": "ffff00000001", "throwaway": "5e1f2a9c0b7d"}
        assert "later_thing" in inspect(real.database.engine).get_table_names()


def test_upgrade_runs_on_a_connection_passed_in(tmp_path):
    with scratch_database(tmp_path) as url, runtime_for(url) as runtime:
        with runtime.database.engine.connect() as conn:
            migrate.upgrade(runtime, connection=conn)
            conn.commit()
        assert migrate.current(runtime)["core"] == core_head()
        assert migrate.check(runtime) == []


def test_a_demo_loaded_before_demo_sets_were_recorded_is_recorded_whole(tmp_path):
    from sqlalchemy import insert, select

    from core.db import utcnow
    from core.models import DemoDataset, Team

    with scratch_database(tmp_path) as url, runtime_for(url) as runtime:
        migrate.upgrade(runtime, "aa06b8efadde")  # the revision before demo sets
        with runtime.database.engine.begin() as conn:
            conn.execute(insert(Team.__table__).values(id=uuid.uuid4(), name="华东销售部 East", created_at=utcnow(),
                                                       updated_at=utcnow(), version=1))
        migrate.upgrade(runtime)
        with runtime.database.engine.connect() as conn:
            rows = conn.execute(select(DemoDataset.name, DemoDataset.loaded_at)).all()
        assert {name for name, _ in rows} == {"core", "*"}
        assert all(abs((at - utcnow()).total_seconds()) < 600 for _, at in rows)


def test_a_database_without_the_demo_records_no_demo_set(tmp_path):
    from sqlalchemy import func, select

    from core.models import DemoDataset

    with scratch_database(tmp_path) as url, runtime_for(url) as runtime:
        migrate.upgrade(runtime)
        with runtime.database.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(DemoDataset)) == 0


def test_analytics_runs_get_the_day_they_started_as_their_as_of_and_keep_every_row(tmp_path):
    """828408c9c566: ``analytics_run.as_of`` becomes a date, existing runs take their started_at's UTC day;
    the runs, their segments and the customers' analytics rows pointing at them all survive."""
    from datetime import date, timezone

    from sqlalchemy import DateTime, column, func, insert, select, table
    from sqlalchemy import Uuid as UuidType

    started = [datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc), datetime(2026, 3, 2, 0, 15, tzinfo=timezone.utc)]
    with scratch_database(tmp_path) as url, runtime_for(url) as runtime:
        migrate.upgrade(runtime, "c0a1e2d3f401")  # the revision before
        run = table("analytics_run", column("id", UuidType()), column("started_at", UTCDateTime()),
                    column("finished_at", UTCDateTime()), column("status", String()), column("trigger", String()),
                    column("as_of", DateTime(timezone=True)), column("customers", Integer()),
                    column("purchasers", Integer()), column("seconds", Float()), column("params", JSON()),
                    column("message", String()))
        segment = table("customer_segment", column("id", UuidType()), column("run_id", UuidType()),
                        column("number", Integer()), column("name", String()), column("size", Integer()),
                        column("profile", String()), column("profile_zh_cn", String()), column("centroid", JSON()))
        ids = [uuid.uuid4(), uuid.uuid4()]
        with runtime.database.engine.begin() as conn:
            for rid, at in zip(ids, started):
                conn.execute(insert(run).values(id=rid, started_at=at, finished_at=at, status="ok", trigger="cli",
                                                as_of=at, customers=3, purchasers=2, seconds=1.5,
                                                params={"bgnbd": {"r": 0.24}}, message=""))
            conn.execute(insert(segment).values(id=uuid.uuid4(), run_id=ids[1], number=1, name="Segment 1", size=2,
                                                profile="", profile_zh_cn="", centroid={}))
        migrate.upgrade(runtime)
        from core.models import AnalyticsRun, CustomerSegment

        with runtime.database.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(select(AnalyticsRun.__table__))}
            assert conn.scalar(select(func.count()).select_from(CustomerSegment.__table__)) == 1
        assert [rows[i].as_of for i in ids] == [date(2026, 3, 1), date(2026, 3, 2)]
        assert all(rows[i].calibration_start is None and rows[i].params == {"bgnbd": {"r": 0.24}}
                   and rows[i].customers == 3 and rows[i].started_at.tzinfo is not None for i in ids)
        assert migrate.check(runtime) == []


def test_the_match_keys_are_filled_for_the_customers_and_contacts_already_stored(tmp_path):
    """3e9b7c1d2a60: ``customer.name_key`` and ``contact.email_key``/``phone_key``/``mobile_key`` are filled for
    existing rows (duplicates are found among them at once); no customer is merged."""
    from datetime import timezone

    from sqlalchemy import Boolean, column, insert, select, table
    from sqlalchemy import Uuid as UuidType

    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    stamps = {"created_at": now, "updated_at": now, "version": 1, "deleted_at": None}
    with scratch_database(tmp_path) as url, runtime_for(url) as runtime:
        migrate.upgrade(runtime, "d7e3b1a90c42")  # the revision before
        customer = table("customer", *(column(n) for n in ("kind", "name", "level", "stage", "notes", "version")),
                         column("id", UuidType()), column("level_pinned", Boolean()), column("created_at", UTCDateTime()),
                         column("updated_at", UTCDateTime()), column("deleted_at", UTCDateTime()))
        contact = table("contact", *(column(n) for n in ("name", "title", "phone", "mobile", "email", "wechat",
                                                          "notes", "version")),
                        column("id", UuidType()), column("customer_id", UuidType()), column("is_primary", Boolean()),
                        column("created_at", UTCDateTime()), column("updated_at", UTCDateTime()),
                        column("deleted_at", UTCDateTime()))
        cid, kid = uuid.uuid4(), uuid.uuid4()
        with runtime.database.engine.begin() as conn:
            conn.execute(insert(customer).values(id=cid, kind="company", name="ＡＣＭＥ  Trading", level="none",
                                                 level_pinned=False, stage="potential", notes="", **stamps))
            conn.execute(insert(contact).values(id=kid, customer_id=cid, name="Li", title="", phone="021 5555 0000",
                                                mobile="+86 138-0013-8000", email=" Li@Acme.CN", wechat="", notes="",
                                                is_primary=True, **stamps))
        migrate.upgrade(runtime)
        from core.models import Contact, Customer

        with runtime.database.engine.connect() as conn:
            row = conn.execute(select(Customer.__table__).where(Customer.__table__.c.id == cid)).one()
            assert (row.name_key, row.merged_into_id, row.merged_at) == ("acme trading", None, None)
            keys = conn.execute(select(Contact.__table__.c.email_key, Contact.__table__.c.phone_key,
                                       Contact.__table__.c.mobile_key)).one()
        assert tuple(keys) == ("li@acme.cn", "+862155550000", "+8613800138000")
        assert migrate.check(runtime) == []


def test_the_names_already_stored_get_their_grams_and_the_downgrade_keeps_every_name(tmp_path):
    """a7c3e5f9b1d2: the customers and contacts stored before it get the grams of their names (a search for
    one or two characters finds them at once); its downgrade drops the grams and the triggers, nothing else."""
    from sqlalchemy import func, insert, inspect, select

    from core.models import Contact, ContactNameGram, Customer, CustomerNameGram

    with scratch_database(tmp_path) as url, runtime_for(url) as runtime:
        migrate.upgrade(runtime, "f3b8d6a2c4e7")  # the revision before
        cid, kid = uuid.uuid4(), uuid.uuid4()
        with runtime.database.engine.begin() as conn:
            conn.execute(insert(Customer.__table__).values(id=cid, name="杭州 ACME", kind="company", level="none",
                                                           stage="potential", notes=""))
            conn.execute(insert(Contact.__table__).values(id=kid, customer_id=cid, name="王五"))
        migrate.upgrade(runtime)
        with runtime.database.engine.connect() as conn:
            grams = set(conn.scalars(select(CustomerNameGram.gram).where(CustomerNameGram.customer_id == cid)))
            assert grams == {"杭", "州", " ", "a", "c", "m", "e", "杭州", "州 ", " a", "ac", "cm", "me"}
            assert set(conn.scalars(select(ContactNameGram.gram))) == {"王", "五", "王五"}
        assert migrate.check(runtime) == []
        from alembic import command

        command.downgrade(migrate.make_config(runtime), "f3b8d6a2c4e7")
        with runtime.database.engine.begin() as conn:
            assert not {"customer_name_gram", "contact_name_gram", "name_gram_position"} & set(
                inspect(conn).get_table_names())
            assert conn.scalar(select(func.count()).select_from(Customer.__table__)) == 1
            conn.execute(Customer.__table__.update().values(name="renamed"))   # no trigger left to fail
        migrate.upgrade(runtime)
        with runtime.database.engine.connect() as conn:
            assert "renamed" in set(conn.scalars(select(CustomerNameGram.name)))


def test_the_grams_of_customers_already_in_the_bin_are_not_live_and_the_downgrade_keeps_every_name(tmp_path):
    """b4e8c2a6d0f1: the grams stored before it learn whether their customer is live (one in the bin is
    not, so an admin's count of a short search leaves it out); the triggers keep that from then on; its
    downgrade drops the column and its trigger, and the grams and names stay."""
    from sqlalchemy import insert, select, text

    from core.models import Customer, CustomerNameGram

    with scratch_database(tmp_path) as url, runtime_for(url) as runtime:
        migrate.upgrade(runtime, "a7c3e5f9b1d2")  # the revision before
        live, binned = uuid.uuid4(), uuid.uuid4()
        with runtime.database.engine.begin() as conn:
            for cid, deleted_at in ((live, None), (binned, datetime(2026, 1, 1, tzinfo=timezone.utc))):
                conn.execute(insert(Customer.__table__).values(id=cid, name="王记", kind="company", level="none",
                                                               stage="potential", notes="", deleted_at=deleted_at))
        migrate.upgrade(runtime)
        assert migrate.check(runtime) == []

        def liveness(conn) -> dict:
            rows = conn.execute(select(CustomerNameGram.customer_id, CustomerNameGram.live)).all()
            return {cid: {flag for key, flag in rows if key == cid} for cid in (live, binned)}

        with runtime.database.engine.begin() as conn:
            assert liveness(conn) == {live: {True}, binned: {False}}
            conn.execute(Customer.__table__.update().where(Customer.__table__.c.id == live)
                         .values(deleted_at=datetime(2026, 2, 1, tzinfo=timezone.utc)))
            assert liveness(conn) == {live: {False}, binned: {False}}
        from alembic import command

        command.downgrade(migrate.make_config(runtime), "a7c3e5f9b1d2")
        with runtime.database.engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM customer_name_gram WHERE gram = '王记'")).scalar() == 2
            conn.execute(Customer.__table__.update().values(name="李记", deleted_at=None))   # the old triggers work
            assert conn.execute(text("SELECT count(*) FROM customer_name_gram WHERE gram = '李记'")).scalar() == 2
        migrate.upgrade(runtime)
        with runtime.database.engine.connect() as conn:
            assert liveness(conn) == {live: {True}, binned: {True}}


def test_an_index_for_another_database_or_a_missing_extension_is_not_compared():
    """The trigram indexes of name search exist on PostgreSQL with pg_trgm only: on SQLite, or a
    PostgreSQL where the migration could not create the extension, the schema still matches the models."""
    from core.models import Customer

    indexes = {index.name: index for index in Customer.__table__.indexes}
    trigram, ordering = indexes["ix_customer_name_trgm"], indexes["ix_customer_name_id"]
    assert not migrate.index_applies(trigram, "sqlite", None)
    assert not migrate.index_applies(trigram, "postgresql", {"plpgsql"})
    assert migrate.index_applies(trigram, "postgresql", {"plpgsql", "pg_trgm"})
    assert all(migrate.index_applies(ordering, dialect, None) for dialect in ("sqlite", "postgresql"))
