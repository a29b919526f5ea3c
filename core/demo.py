"""Demo data: two sales teams and ~200 customers with contacts, a timeline and open tasks.

The records go through the bulk path (:class:`core.services.bulk.BulkRecorder`, one ``executemany`` per
table) with the rules, audit entries, events and workflow history the single-record services write: each
record is created by the rep who owns it (the services' validation schemas check every row), a done
purchase moves its customer along the lifecycle (first purchase, then repeat) and re-grades its level as
the ``interaction.created`` subscriber does, each move with its history row, audit entry and event.
Giving a customer up goes through the services (a rep's approval request, a manager's decision). What
the bulk path leaves out, as its module says: permission checks (the demo's actors own their records) and
in-process event subscribers (their rules are applied here). The data comes from a seeded
``random.Random``: the same seed gives the same records on every machine (dates are relative to today).
``trellis demo`` calls :func:`load_demo` inside one unit of work; the core's data and each plugin's are
loaded once, so a second call adds only what is missing. Each data set reports how far it has got
through a :class:`Progress` (the CLI draws a progress bar from it).
"""
from __future__ import annotations

import contextlib
import functools
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from time import perf_counter
from types import SimpleNamespace
from typing import Any, Callable

from sqlalchemy import func, select

from core import db
from core.models import Customer, DemoDataset, Role, User

SEED = 42
ADMIN_EMAIL = "admin@example.com"
CUSTOMERS = 200
#: customers written per bulk flush (and per step of the progress display)
BATCH = 25

# team name, region focus, manager, reps: (email, name)
TEAMS = [
    ("华东销售部 East", ["华东", "华北"], ("manager.east@example.com", "王芳"),
     [("rep1.east@example.com", "张伟"), ("rep2.east@example.com", "李娜"), ("rep3.east@example.com", "刘洋")]),
    ("华南销售部 South", ["华南", "西南", "华中"], ("manager.south@example.com", "陈静"),
     [("rep1.south@example.com", "黄磊"), ("rep2.south@example.com", "周敏"), ("rep3.south@example.com", "吴强")]),
]

CITIES = {
    "华东": ["上海", "杭州", "苏州", "南京", "宁波"],
    "华北": ["北京", "天津", "石家庄"],
    "华南": ["广州", "深圳", "东莞", "佛山"],
    "西南": ["成都", "重庆", "昆明"],
    "华中": ["武汉", "长沙", "郑州"],
}

# industry: (company-name suffixes, typical order size in CNY)
INDUSTRIES = {
    "制造": (["机械制造有限公司", "精密零部件有限公司", "电子科技有限公司"], 60000),
    "零售": (["商贸有限公司", "百货有限公司", "连锁超市有限公司"], 15000),
    "物流": (["物流有限公司", "供应链管理有限公司", "货运代理有限公司"], 30000),
    "软件": (["软件有限公司", "信息技术有限公司", "网络科技有限公司"], 45000),
    "餐饮": (["餐饮管理有限公司", "食品有限公司", "酒楼有限公司"], 8000),
    "建筑": (["建设工程有限公司", "装饰工程有限公司"], 80000),
    "医疗": (["医疗器械有限公司", "生物科技有限公司"], 50000),
}

BRANDS = ["恒达", "华信", "鼎盛", "永泰", "瑞丰", "金桥", "东方", "新锐", "宏图", "安捷", "百川", "博远", "长城",
          "诚信", "德昌", "飞鸿", "富华", "广源", "海纳", "和顺", "汇通", "嘉禾", "锦程", "聚力", "凯达", "蓝天",
          "利华", "龙腾", "明辉", "南方", "启航", "日升", "盛世", "泰和", "天成", "万通", "协力", "鑫源", "耀华",
          "宇航", "远大", "振华", "正泰", "中联", "卓越", "智联", "众诚", "佳美", "旭日", "云帆"]

SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭",
            "马", "罗"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "霞", "平", "刚", "桂英", "建华", "晓东", "海燕", "志强"]
TITLES = ["总经理", "采购经理", "财务总监", "技术负责人", "行政主管", "店长", "运营总监", "副总经理"]
TAGS = ["重点客户", "老客户转介绍", "展会线索", "价格敏感", "需回访", "年度框架协议", "新开门店"]
SIZES = ["micro", "small", "medium", "large", "enterprise"]
SOURCES = ["referral", "exhibition", "web_search", "directory", "association", "cold_call", "walk_in",
           "advertising", "partner"]

# kind, direction, subject templates for the timeline before any order
TOUCHES = [
    ("call", "outbound", "电话沟通需求"),
    ("call", "inbound", "客户来电咨询价格"),
    ("email", "outbound", "发送产品资料"),
    ("visit", "outbound", "上门拜访"),
    ("meeting", "outbound", "方案交流会"),
    ("proposal", "outbound", "提交解决方案建议书"),
    ("quote", "outbound", "报价"),
]
TASKS = [("call", "回访：确认使用情况"), ("visit", "拜访：年度合作洽谈"), ("quote", "更新报价单"),
         ("meeting", "安排产品演示"), ("email", "寄送合同草稿")]


@dataclass
class DemoSummary:
    users: int
    teams: int
    customers: int
    contacts: int
    interactions: int
    tasks: int
    lost: int = 0
    approvals_pending: int = 0
    #: the plugins whose demo data this run loaded
    plugins: list[str] = field(default_factory=list)


class Progress:
    """How far one demo data set has got, for a progress display: the ``progress`` argument of the
    ``trellis_demo_data`` hook.

    Call it with the number of records just written (``progress(250)``); call :meth:`expect` with the
    number of records the set will write in all, once known (an estimate is fine: the display ends at
    what was written). A *record* is one thing a person would count — a customer, a contact, a
    purchase, a gate scan — not the audit entries and events written with it. Calling it is optional:
    a data set that reports nothing is shown when it is done, with its time."""

    def __init__(self, name: str, on_change: Callable[["Progress"], None] | None = None):
        #: the data set: ``core`` or the plugin's name
        self.name = name
        #: records reported so far, and the expected total (``None`` until :meth:`expect` is called)
        self.done, self.total = 0, None
        self.started = perf_counter()
        self._on_change = on_change

    def __call__(self, records: int = 1) -> None:
        self.done += records
        if self._on_change is not None:
            self._on_change(self)

    def expect(self, total: int) -> None:
        """The number of records the data set expects to write in all."""
        self.total = total
        if self._on_change is not None:
            self._on_change(self)

    @property
    def seconds(self) -> float:
        """Seconds since the data set started loading."""
        return perf_counter() - self.started


#: ``progress_for(name)``: a context manager giving the :class:`Progress` of data set ``name``; entered
#: around the set's loading and left when it is done (the CLI prints the set's line on leaving)
ProgressFactory = Callable[[str], Any]


@contextlib.contextmanager
def silent_progress(name: str):
    """The default ``progress_for``: a :class:`Progress` nobody displays."""
    yield Progress(name)


CORE_DATASET = "core"
#: recorded for a demo loaded before data sets were recorded one by one: its plugins count as loaded
EVERY_PLUGIN = "*"


def loaded_datasets() -> set[str]:
    """The demo data sets the database holds: ``core`` and plugin names (see ``DemoDataset``)."""
    return set(db.session().scalars(select(DemoDataset.name)))


def plugin_rng(plugin_name: str) -> random.Random:
    """A plugin's own seeded generator: its demo is the same on every machine, whichever other plugins
    are enabled and whenever it is loaded."""
    return random.Random(f"trellis-demo:{SEED}:{plugin_name}")


def demo_admin() -> User:
    """The demo administrator, created (without a password) if missing."""
    from core.services import users

    existing = db.session().scalars(select(User).where(func.lower(User.email) == ADMIN_EMAIL)).first()
    if existing is not None:
        return existing
    return users.create_user(None, {"email": ADMIN_EMAIL, "name": "Demo Admin", "role": Role.ADMIN.value})


@functools.lru_cache(maxsize=16)
def _password_hash(password: str, method: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method=method)


def create_demo_user(actor: Any, data: dict[str, Any]) -> User:
    """``core.services.users.create_user`` for a demo account with a known, published password (the
    plugins' organiser, exhibitors, store staff): the same validation and checks, but the hash of each
    demo password is computed once per process and shared by every account that has that password.
    With the production hashing (scrypt) a hash costs a seventh of a second, and these are throwaway
    accounts whose passwords are printed in the READMEs, so the shared salt hides nothing. Real users'
    passwords are never hashed this way."""
    from core import runtime
    from core.schemas import UserCreate
    from core.services import common, users

    common.validate(UserCreate, data)  # the password's rules too, before anything is written
    data = dict(data)
    password = data.pop("password", None)
    user = users.create_user(actor, data)
    if password:
        user.password_hash = _password_hash(password, runtime.current().settings.password_hash_method)
        db.session().flush()
    return user


#: the data set ``trellis demo --dataset cdnow`` records once it imported the CDNOW sample
CDNOW_DATASET = "cdnow"


def load_cdnow(runtime: Any) -> list | None:
    """Import the CDNOW sample (``core.analytics.cdnow``) as customers with their purchases through the
    import path (``core.services.imports``: audited, events emitted, upserted by external id) as the demo
    administrator, once: call it outside a unit of work (the import commits in batches). Returns the two
    imports' outcomes, or None when the sample was loaded before."""
    import tempfile

    from core.analytics import cdnow
    from core.services import imports

    with runtime.database.unit_of_work():
        demo_admin()
        if CDNOW_DATASET in loaded_datasets():
            return None
    outcomes = []
    with tempfile.TemporaryDirectory() as directory:
        for record_type, path in zip(("customers", "interactions"), cdnow.write_import_files(directory)):
            with runtime.database.unit_of_work():
                run_id = imports.start_run(demo_admin(), record_type, path, file_name=path.name).id
            outcomes.append(imports.run_import(run_id, database=runtime.database, path=path))
    with runtime.database.unit_of_work():
        db.session().add(DemoDataset(name=CDNOW_DATASET))
    return outcomes


def load_demo(runtime: Any, rng: random.Random, *, customers: int = CUSTOMERS,
              plugins: bool = True, progress_for: ProgressFactory = silent_progress) -> DemoSummary | None:
    """Load the core's demo data, then (unless ``plugins`` is false) the demo data of every enabled plugin
    through the ``trellis_demo_data`` hook, in the open unit of work. Each set is loaded once and recorded,
    so a later run adds only what is missing: the plugins' data after a ``--core-only`` run, or a plugin
    enabled since. ``progress_for(name)`` is entered around each set loaded (see :data:`ProgressFactory`).
    Returns what was added, or None when nothing was."""
    admin = demo_admin()
    loaded = loaded_datasets()
    summary = None
    if CORE_DATASET not in loaded:
        with progress_for(CORE_DATASET) as progress:
            builder = _Builder(rng, today=datetime.combine(datetime.now(timezone.utc).date(), time(9), timezone.utc))
            progress.expect(customers)
            builder.staff()
            for start in range(0, customers, BATCH):
                for index in range(start, min(start + BATCH, customers)):
                    builder.customer(index)
                builder.flush()
                progress(min(BATCH, customers - start))
            db.session().add(DemoDataset(name=CORE_DATASET))
            db.session().flush()
        summary = builder.summary
    if plugins and EVERY_PLUGIN not in loaded:
        for name in runtime.plugins.implementers("trellis_demo_data"):
            if name in loaded:
                continue
            with progress_for(name) as progress:
                runtime.plugins.call_each("trellis_demo_data", only={name}, admin=admin, rng=plugin_rng(name),
                                          progress=progress)
                db.session().add(DemoDataset(name=name))
                db.session().flush()
            summary = summary or DemoSummary(0, 0, 0, 0, 0, 0)
            summary.plugins.append(name)
    if summary is not None:
        db.session().flush()
    return summary


def _column_defaults(model: type) -> dict[str, Any]:
    """The Python-side scalar defaults of ``model``'s columns (the bulk path applies none itself)."""
    return {c.key: c.default.arg for c in model.__table__.columns
            if c.default is not None and c.default.is_scalar}


class _Clock:
    """Load time, one microsecond further at every call: the bulk rows are stamped "now" as the services
    stamp them, and two moves of one record never share an instant (histories sort by time)."""

    def __init__(self):
        self.last = db.utcnow()

    def __call__(self) -> datetime:
        self.last = max(db.utcnow(), self.last + timedelta(microseconds=1))
        return self.last


class _Builder:
    def __init__(self, rng: random.Random, today: datetime):
        from core import levels, runtime

        self.rng, self.today = rng, today
        self.teams: list[tuple[User, list[User], list[str]]] = []
        self.names: set[str] = set()
        self.summary = DemoSummary(0, 0, 0, 0, 0, 0)
        self.clock = _Clock()
        self.rules = levels.parse_rules(runtime.current().settings.level_rules)
        self.kinds = runtime.current().interaction_kinds
        self.defaults = {model: _column_defaults(model) for model in self.models()}
        #: one recorder per acting user (a record is written by its owner), and the losses to ask for
        self.recorders: dict[Any, Any] = {}
        self.losses: list[tuple[User, User, Any, bool]] = []
        #: per customer id: its done purchases so far, and when it entered its state in each workflow
        self.bought: dict[Any, list[dict[str, Any]]] = {}
        self.since: dict[tuple[Any, str], datetime] = {}

    @staticmethod
    def models() -> list[type]:
        from core.models import Contact, CustomerTag, Interaction

        return [Customer, CustomerTag, Contact, Interaction]

    def recorder(self, actor: User):
        from core.services.bulk import BulkRecorder

        if actor.id not in self.recorders:
            self.recorders[actor.id] = BulkRecorder(actor)
        return self.recorders[actor.id]

    def row(self, actor: User, model: type, values: dict[str, Any]):
        """Collect a new record of ``model`` created by ``actor`` now, with its columns' defaults."""
        at = self.clock()
        return self.recorder(actor).add(model, **{**self.defaults[model], **values, "created_at": at,
                                                  "updated_at": at, "version": 1, "deleted_at": None})

    def flush(self) -> None:
        """Write what was collected, then ask for (and decide) the losses of the customers just written."""
        from core.services import customers

        for rec in self.recorders.values():
            rec.flush(self.models())
        self.bought.clear()
        self.since.clear()
        for rep, manager, customer_id, approve in self.losses:
            request = customers.request_stage_change(rep, customer_id, {"to": "lost", "reason": "客户已选择其他供应商"})
            if approve:
                customers.decide_approval(manager, request.id, {"approve": True, "note": "同意，半年后再回访"})
        self.losses.clear()

    # --- people -------------------------------------------------------------------------------------

    def staff(self) -> None:
        from core.services import users

        for team_name, regions, (manager_email, manager_name), reps in TEAMS:
            manager = users.create_user(None, {"email": manager_email, "name": manager_name,
                                               "role": Role.MANAGER.value, "locale": "zh-CN"})
            team = users.create_team(None, team_name, manager=manager)
            members = [users.create_user(None, {"email": email, "name": name, "role": Role.REP.value,
                                                "team_id": str(team.id), "locale": "zh-CN"})
                       for email, name in reps]
            self.teams.append((manager, members, regions))
            self.summary.teams += 1
            self.summary.users += 1 + len(members)

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def mobile(self) -> str:
        return f"1{self.rng.choice('3589')}{self.rng.randrange(10**8, 10**9)}"

    # --- customers ----------------------------------------------------------------------------------

    def customer(self, index: int) -> None:
        """One customer (as ``core.services.customers.create`` writes it), its contacts and timeline."""
        from core import levels, lifecycle
        from core.models import CustomerTag
        from core.services import audit, common, workflow
        from core.services.customers import AUDITED
        from core.schemas import CustomerCreate
        from core.workflow import AUTOMATIC, MANUAL

        rng = self.rng
        manager, reps, regions = self.teams[index % len(self.teams)]
        region = rng.choice(regions)
        city = rng.choice(CITIES[region])
        industry = rng.choice(list(INDUSTRIES))
        suffixes, order_size = INDUSTRIES[industry]
        kind = "person" if industry in ("零售", "餐饮") and rng.random() < 0.15 else "company"
        name = self.unique_name(city, suffixes, kind)
        # the profile decides the story: a cold lead, an interested one, a buyer, a regular, a lost one
        profile = rng.choices(["lead", "intent", "buyer", "regular", "lost"], weights=[30, 20, 20, 22, 8])[0]
        unowned = profile == "lead" and rng.random() < 0.12  # a few leads wait in the team's pool
        owner = manager if unowned else rng.choice(reps)
        data = {
            "kind": kind, "name": name, "industry": industry, "region": region,
            "size": None if kind == "person" else rng.choice(SIZES),
            "source": rng.choice(SOURCES),
            "stage": "intent" if profile == "intent" else "potential",
            "tags": rng.sample(TAGS, k=rng.choice([0, 0, 1, 1, 2])),
            "notes": f"{city}{industry}行业客户。" + ("客户池线索，待分配。" if unowned else ""),
        }
        if unowned:
            data["owner_id"] = None
        values = common.validate(CustomerCreate, data)
        tags = sorted(dict.fromkeys(t.strip() for t in values.pop("tags", []) if t.strip()))
        values.setdefault("owner_id", owner.id)
        # a rep or manager creating their own customer: a manual start, checked by the lifecycle
        approved_by = workflow.check_start(owner, lifecycle.WORKFLOW, values.get("stage", "potential"), trigger=MANUAL)
        rec = self.recorder(owner)
        customer = self.row(owner, Customer, {**values, "level": levels.default_level(self.rules)})
        for tag in tags:
            rec.add(CustomerTag, customer_id=customer.id, tag=tag)
        created = customer.values["created_at"]
        rec.change("created", customer, audit.created_fields(SimpleNamespace(**customer.values), AUDITED) | (
            {"tags": ([], tags)} if tags else {}), at=created)
        if approved_by is not None:  # not so for a rep's own customer; the bulk path records no approver
            raise RuntimeError("A demo customer cannot start in a stage that needs an approval.")
        rec.start(lifecycle.WORKFLOW, customer, customer.values["stage"], at=created, trigger=MANUAL,
                  reason="created in this stage")
        rec.start(levels.WORKFLOW, customer, customer.values["level"], at=created, trigger=AUTOMATIC,
                  reason="the default level")
        self.summary.customers += 1
        contacts = self.contacts(owner, customer, kind, name)
        self.timeline(owner, customer, contacts, profile, order_size)
        if profile == "lost":
            self.lose(owner, manager, customer)

    def unique_name(self, city: str, suffixes: list[str], kind: str) -> str:
        for _ in range(100):
            if kind == "person":
                name = self.person() + ("先生" if self.rng.random() < 0.5 else "女士")
            else:
                name = city + self.rng.choice(BRANDS) + self.rng.choice(suffixes)
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("ran out of demo customer names")

    def contacts(self, owner: User, customer: Any, kind: str, name: str) -> list[Any]:
        """The customer's contacts as ``core.services.contacts.create`` writes them: the first is the
        primary one (made so by an update after its insert, hence its version 2)."""
        from core.models import Contact
        from core.schemas import ContactCreate
        from core.services import audit, common
        from core.services.contacts import AUDITED

        rng = self.rng
        count = 1 if kind == "person" else rng.choice([1, 2, 2, 3])
        made = []
        for i in range(count):
            person = name[:-2] if kind == "person" else self.person()
            values = common.validate(ContactCreate, {
                "customer_id": str(customer.id), "name": person,
                "title": "" if kind == "person" else TITLES[(i + rng.randrange(len(TITLES))) % len(TITLES)],
                "mobile": self.mobile(),
                "email": f"c{self.summary.customers:03d}.{i + 1}@example.cn",
                "wechat": f"wx_{rng.randrange(10**6, 10**7)}",
                "is_primary": i == 0,
            })
            primary = values.pop("is_primary", False) or not made
            contact = self.row(owner, Contact, {**values, "is_primary": primary})
            if primary:
                contact.values["version"] = 2
            self.recorder(owner).change("created", contact, audit.created_fields(
                SimpleNamespace(**contact.values), AUDITED), at=contact.values["created_at"])
            made.append(contact)
        self.summary.contacts += count
        return made

    def lose(self, rep: User, manager: User, customer: Any) -> None:
        """Giving a customer up needs the manager's approval; a few requests still wait for it. Asked
        for (and decided) through the services once the customer is written (:meth:`flush`)."""
        approve = self.rng.random() < 0.7
        self.losses.append((rep, manager, customer.id, approve))
        if approve:
            self.summary.lost += 1
        else:
            self.summary.approvals_pending += 1

    # --- the timeline and the tasks -----------------------------------------------------------------

    def timeline(self, owner: User, customer: Any, contacts: list[Any], profile: str, order_size: int) -> None:
        rng = self.rng
        start = self.today - timedelta(days=rng.randint(60, 540))
        touches = {"lead": rng.randint(0, 2), "intent": rng.randint(2, 4), "buyer": rng.randint(2, 4),
                   "regular": rng.randint(2, 3), "lost": rng.randint(2, 4)}[profile]
        purchases = {"buyer": 1, "regular": rng.randint(2, 5), "lost": rng.choice([0, 1, 2])}.get(profile, 0)
        events: list[tuple[str, str, str, Decimal | None]] = []
        for _ in range(touches):
            events.append(rng.choice(TOUCHES) + (None,))
        if purchases:
            events.append(("quote", "outbound", "正式报价", None))
        for n in range(purchases):
            amount = Decimal(round(order_size * rng.uniform(0.3, 2.5), -2))
            events.append(("purchase", "inbound", "首次下单" if n == 0 else f"第{n + 1}次下单", amount))
        if profile == "lost":
            events.append(("call", "outbound", "回访：客户已选择其他供应商", None))
        span = (self.today - timedelta(days=3) - start).days
        days = sorted(rng.sample(range(span), k=min(len(events), span)))
        for (kind, direction, subject, amount), day in zip(events, days):
            data = {
                "customer_id": str(customer.id), "kind": kind, "direction": direction, "subject": subject,
                "occurred_at": (start + timedelta(days=day, hours=rng.randint(0, 8))).isoformat(),
                "contact_id": str(rng.choice(contacts).id),
            }
            if amount is not None:
                data["amount"] = str(amount)
                data["notes"] = f"订单金额 ¥{amount:,.0f}"
            self.interaction(owner, customer, data)
            self.summary.interactions += 1
        if profile != "lost" and rng.random() < 0.45:
            for _ in range(rng.choice([1, 1, 2])):
                kind, subject = rng.choice(TASKS)
                due = self.today + timedelta(days=rng.randint(-4, 21), hours=rng.randint(0, 8))
                self.interaction(owner, customer, {
                    "customer_id": str(customer.id), "kind": kind, "status": "planned", "subject": subject,
                    "due_at": due.isoformat(), "contact_id": str(contacts[0].id),
                })
                self.summary.tasks += 1

    def interaction(self, owner: User, customer: Any, data: dict[str, Any]) -> None:
        """One timeline entry or task as ``core.services.interactions.create`` writes it; a done purchase
        then moves the customer as the core's ``interaction.created`` subscriber does."""
        from core import lifecycle
        from core.errors import ValidationFailed
        from core.models import Interaction, InteractionStatus
        from core.schemas import InteractionCreate
        from core.services import audit, common
        from core.services.interactions import AUDITED

        values = common.validate(InteractionCreate, data)
        if values["kind"] not in self.kinds:
            raise ValidationFailed(fields={"kind": ["Unknown interaction kind."]})
        values.setdefault("status", InteractionStatus.PLANNED.value if values.get("due_at") and not values.get(
            "occurred_at") else InteractionStatus.DONE.value)
        if values["status"] == InteractionStatus.PLANNED.value:
            values.setdefault("assignee_id", owner.id)
        row = self.row(owner, Interaction, {**values, "created_by_id": owner.id, "source": "core"})
        self.recorder(owner).change("created", row, audit.created_fields(SimpleNamespace(**row.values), AUDITED),
                                    payload={"customer_id": customer.id, "kind": values["kind"], "source": "core"},
                                    at=row.values["created_at"])
        if values["kind"] == lifecycle.PURCHASE_KIND and values["status"] == InteractionStatus.DONE.value:
            self.purchased(owner, customer, row.values)

    def purchased(self, owner: User, customer: Any, purchase: dict[str, Any]) -> None:
        """The lifecycle move (first purchase, repeat) and the re-grading a done purchase causes."""
        from core import levels, lifecycle

        c = customer.values
        bought = self.bought.setdefault(customer.id, [])
        bought.append(purchase)
        count = len(bought)
        target = "repeat" if count >= 2 else "first_purchase"
        if c["stage"] not in (target, "repeat"):
            self.move(owner, customer, lifecycle.WORKFLOW, target, event="interaction.created",
                      reason=f"{count} purchase{'s' if count > 1 else ''} recorded")
        now = self.clock()
        since = now - timedelta(days=365)
        recent = [p for p in bought if p["occurred_at"] >= since]
        values = {"revenue_12m": float(sum((p["amount"] or 0 for p in recent), Decimal(0))),
                  "purchases_12m": float(len(recent))}
        target = levels.grade(self.rules, values)
        if target != c["level"]:
            self.move(owner, customer, levels.WORKFLOW, target, event="interaction.created",
                      reason=", ".join(f"{k}={v:g}" for k, v in values.items()))

    def move(self, actor: User, customer: Any, workflow_name: str, to: str, *, event: str, reason: str) -> None:
        from core import runtime
        from core.workflow import AUTOMATIC

        field_name = runtime.current().workflows.get(workflow_name).field
        c = customer.values
        since = self.since.get((customer.id, workflow_name), c["created_at"])
        at = self.clock()
        c["version"] += 1
        self.recorder(actor).transition(workflow_name, customer, c[field_name], to, entered_at=since, at=at,
                                        trigger=AUTOMATIC, event=event, reason=reason, version=c["version"])
        c[field_name], c["updated_at"] = to, at
        self.since[(customer.id, workflow_name)] = at
