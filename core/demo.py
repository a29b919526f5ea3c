"""Demo data: two sales teams and ~200 customers with contacts, a timeline and open tasks.

Everything is written through the services, each record by the rep who owns it, so the demo exercises
the same rules, audit trail, events and automatic lifecycle moves as real use (a done purchase moves a
customer to first purchase, the second to repeat; levels follow the revenue). The data comes from a
seeded ``random.Random``: the same seed gives the same records on every machine (dates are relative
to today). ``trellis demo`` calls :func:`load_demo` inside one unit of work; the core's data and each
plugin's are loaded once, so a second call adds only what is missing. Each data set reports how far it
has got through a :class:`Progress` (the CLI draws a progress bar from it).
"""
from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from time import perf_counter
from typing import Any, Callable

from sqlalchemy import func, select

from core import db
from core.models import Customer, DemoDataset, Role, User

SEED = 42
ADMIN_EMAIL = "admin@example.com"
CUSTOMERS = 200

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
            for index in range(customers):
                builder.customer(index)
                progress(1)
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


class _Builder:
    def __init__(self, rng: random.Random, today: datetime):
        self.rng, self.today = rng, today
        self.teams: list[tuple[User, list[User], list[str]]] = []
        self.names: set[str] = set()
        self.summary = DemoSummary(0, 0, 0, 0, 0, 0)

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
        from core.services import customers

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
        customer = customers.create(owner, data)
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

    def contacts(self, owner: User, customer: Customer, kind: str, name: str) -> list[Any]:
        from core.services import contacts

        rng = self.rng
        count = 1 if kind == "person" else rng.choice([1, 2, 2, 3])
        made = []
        for i in range(count):
            person = name[:-2] if kind == "person" else self.person()
            made.append(contacts.create(owner, {
                "customer_id": str(customer.id), "name": person,
                "title": "" if kind == "person" else TITLES[(i + rng.randrange(len(TITLES))) % len(TITLES)],
                "mobile": self.mobile(),
                "email": f"c{self.summary.customers:03d}.{i + 1}@example.cn",
                "wechat": f"wx_{rng.randrange(10**6, 10**7)}",
                "is_primary": i == 0,
            }))
        self.summary.contacts += count
        return made

    def lose(self, rep: User, manager: User, customer: Customer) -> None:
        """Giving a customer up needs the manager's approval; a few requests still wait for it."""
        from core.services import customers

        request = customers.request_stage_change(rep, customer.id, {"to": "lost", "reason": "客户已选择其他供应商"})
        if self.rng.random() < 0.7:
            customers.decide_approval(manager, request.id, {"approve": True, "note": "同意，半年后再回访"})
            self.summary.lost += 1
        else:
            self.summary.approvals_pending += 1

    # --- the timeline and the tasks -----------------------------------------------------------------

    def timeline(self, owner: User, customer: Customer, contacts: list[Any], profile: str, order_size: int) -> None:
        from core.services import interactions

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
            interactions.create(owner, data)
            self.summary.interactions += 1
        if profile != "lost" and rng.random() < 0.45:
            for _ in range(rng.choice([1, 1, 2])):
                kind, subject = rng.choice(TASKS)
                due = self.today + timedelta(days=rng.randint(-4, 21), hours=rng.randint(0, 8))
                interactions.create(owner, {
                    "customer_id": str(customer.id), "kind": kind, "status": "planned", "subject": subject,
                    "due_at": due.isoformat(), "contact_id": str(contacts[0].id),
                })
                self.summary.tasks += 1
