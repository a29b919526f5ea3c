"""Property service (物业服务): demo data for ``trellis demo``.

An estate (翠湖花园) with four buildings and 96 units, ~80 owners and residents, the four standard teams
with managers and members, two centre agents, and ~300 service requests over the last half year, carried
through the loop at the times they would have happened (by the services' rules, written in bulk: see
:class:`_Loop`): dispatched, worked, some waiting on the owner, resolved, rated (a few poorly, which
opens follow-ups), some reopened, rejected or referred, the recent ones still open. Everything comes from
the seeded ``rng``; a second run adds nothing.
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from core import db
from core.db import utcnow
from core.models import User, WorkflowTransitionEntry
from core.models.notifications import Notification
from core.services import common
from core.services.bulk import BulkRecorder
from core.services.workflow import check_move, history_values, move_payload
from core.workflow import MANUAL
from plugins.property_service import requests, services, sla
from plugins.property_service import schemas as s
from plugins.property_service.models import PsEstate, PsRequest, PsUnit
from plugins.property_service.workflows import (
    ACCEPTED, CLOSED, DISPATCHED, IN_PROGRESS, REFERRED, REJECTED, RESOLVED, WAITING, WORKFLOW,
)

ESTATE = "翠湖花园 Emerald Lake Garden"
DOMAIN = "property.demo.example"
REQUESTS = 300

TEAMS = [
    ("engineering", "Engineering", "工程组", "顾工", ["李师傅", "张师傅"]),
    ("environment", "Environment", "环境组", "周主管", ["陈阿姨", "刘师傅"]),
    ("security", "Security", "护卫组", "吴队长", ["赵队员", "孙队员"]),
    ("administration", "Administration", "行政组", "郑经理", ["钱助理", "冯助理"]),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英"]

PROBLEMS = {
    "repair": ["厨房水龙头漏水", "卫生间下水道堵塞", "客厅灯不亮", "门锁坏了", "空调外机噪音大", "楼道灯不亮",
               "电梯按钮失灵", "阳台漏雨", "暖气不热", "对讲门禁失灵"],
    "complaint": ["楼上装修噪音", "垃圾清运不及时", "小区内违章停车", "宠物粪便无人清理", "保安态度不好",
                  "绿化带被占用"],
    "consultation": ["物业费缴纳方式", "装修申请流程", "停车位租赁", "快递代收", "宽带安装", "社区活动时间"],
    "suggestion": ["增设快递柜", "开设干洗店", "开办社区书店", "增加老年人活动", "安装充电桩", "开设健身房"],
    "personal_service": ["上门收物业费", "代缴水电费", "家政保洁预约", "代收包裹"],
}

TOPICS = {
    "物业费缴纳方式": "fee_payment", "装修申请流程": "renovation", "停车位租赁": "parking",
    "快递代收": "parcel_lockers", "宽带安装": "broadband", "社区活动时间": "elderly_activities",
    "增设快递柜": "parcel_lockers", "开设干洗店": "dry_cleaning", "开办社区书店": "bookshop",
    "增加老年人活动": "elderly_activities", "安装充电桩": "ev_charging", "开设健身房": "gym",
    "上门收物业费": "fee_collection", "代缴水电费": "fee_collection", "家政保洁预约": "housekeeping",
    "代收包裹": "parcel_lockers",
}

KIND_WEIGHTS = [("repair", 45), ("complaint", 14), ("consultation", 22), ("suggestion", 12), ("personal_service", 7)]
KIND_TEAM = {"repair": "engineering", "complaint": "administration", "consultation": "administration",
             "suggestion": "administration", "personal_service": "administration"}
COMPLAINT_TEAM = {"垃圾清运不及时": "environment", "宠物粪便无人清理": "environment", "小区内违章停车": "security",
                  "保安态度不好": "security"}


def build(admin: User, rng: random.Random, progress=None, *, now: datetime | None = None) -> None:
    """Load the demo as of ``now`` (default: the present; a test passes a fixed instant to get the same
    statuses on any day); ``progress`` (a ``core.demo.Progress``) hears of units, residents and requests
    as they are written."""
    from core.demo import Progress

    progress = progress or Progress("property_service")
    if db.session().scalar(select(PsEstate.id).where(PsEstate.name == ESTATE)) is not None:
        return
    progress.expect(96 + 80 + REQUESTS)
    from core.services import users

    now = now or utcnow()

    def user(email: str, name: str, role: str) -> User:
        return users.create_user(None, {"email": f"{email}@{DOMAIN}", "name": name, "role": role, "locale": "zh-CN"})

    centre = [user("centre1", "客服 小林", "property_centre"), user("centre2", "客服 小何", "property_centre")]
    teams, members = {}, {}
    for index, (code, name, zh, manager_name, staff_names) in enumerate(TEAMS):
        manager = user(f"{code}.manager", manager_name, "property_staff")
        staff = [user(f"{code}.{n}", person, "property_staff") for n, person in enumerate(staff_names, 1)]
        existing = services.team_by_code(code)
        if existing is None:
            team = services.teams.create(admin, {
                "code": code, "name": name, "name_zh_cn": zh, "manager_id": str(manager.id),
                "member_ids": [str(u.id) for u in staff]})
        else:  # a team of this code is there already: the demo staff join it
            have = services.teams.get(admin, existing.id)
            team = services.teams.update(admin, existing.id, {
                "member_ids": [str(i) for i in have.member_ids] + [str(u.id) for u in staff],
                "version": have.version})
        teams[code], members[code] = team, staff
    services.ensure_default_kinds(admin)
    if services.kind_by_code("personal_service", active_only=False) is None:
        services.kinds.create(admin, {
            "code": "personal_service", "label_en": "Personal service", "label_zh_cn": "个性化服务",
            "description": "Fee collection at the door, housekeeping and other services for busy owners.",
            "group": "Service", "keywords": "fee,housekeeping", "demand": True,
            "default_team_id": str(teams["administration"].id)})

    estate = services.estates.create(admin, {"name": ESTATE, "address": "上海市闵行区翠湖路 88 号",
                                             "lat": 31.1123, "long": 121.3817})
    units = []
    for b in range(1, 5):
        building = services.buildings.create(admin, {
            "estate_id": str(estate.id), "name": f"{b} 号楼", "address": f"翠湖路 88 弄 {b} 号",
            "lat": round(31.1120 + b * 0.0004, 6), "long": round(121.3810 + b * 0.0003, 6)})
        for staircase in (1, 2):
            for floor in range(1, 7):
                for room in (1, 2):
                    units.append(services.units.create(admin, {
                        "building_id": str(building.id), "unit": str(staircase), "room": f"{floor}0{room}",
                        "area": f"{rng.choice([68, 89, 96, 112, 128, 143])}.{rng.randrange(0, 100):02d}"}))
                    progress(1)

    from core.services import customers

    residents = []
    agent = centre[0]
    for unit in units[:80]:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        owner = customers.create(agent, {"kind": "person", "name": name, "region": "上海",
                                         "tags": ["业主"] if rng.random() < 0.8 else ["租户"]})
        relation = "owner" if "业主" in owner.tags else "tenant"
        services.occupancies.create(agent, {"unit_id": str(unit.id), "customer_id": str(owner.id),
                                            "relation": relation,
                                            "start_date": f"{rng.randrange(2012, 2025)}-0{rng.randrange(1, 10)}-01"})
        residents.append((owner, unit))
        progress(1)

    kinds = [k for k, _ in KIND_WEIGHTS]
    weights = [w for _, w in KIND_WEIGHTS]
    loop = _Loop(centre)
    for index in range(REQUESTS):
        _one_request(loop, rng, now, index, residents, rng.choices(kinds, weights)[0], teams, members, centre)
        progress(1)
    loop.flush()
    requests.check_sla(now)


def _working_time(rng: random.Random, start: datetime, hours: float) -> datetime:
    from plugins.property_service import sla

    return sla.calendar().add(start, max(hours, 0.05) * 3600)


def _one_request(loop, rng, now, index, residents, kind, teams, members, centre) -> None:
    owner, unit = rng.choice(residents)
    problem = rng.choice(PROBLEMS[kind])
    # the first tenth came in over the last three days: those are still in the loop
    days_ago = rng.uniform(0, 3) if index < REQUESTS // 10 else rng.triangular(0, 180, 20)
    received = (now - timedelta(days=days_ago)).replace(microsecond=0)
    local_hour = rng.randrange(8, 21)
    received = received.replace(hour=(local_hour - 8) % 24, minute=rng.randrange(60))  # Beijing is UTC+8
    if received > now:
        received = now - timedelta(minutes=5)
    agent = centre[index % len(centre)]
    priority = rng.choices(["urgent", "high", "normal", "low"], [5, 15, 65, 15])[0]
    channel = rng.choices(["phone", "in_person", "app", "web", "written", "open311"], [40, 20, 20, 8, 7, 5])[0]
    data = {"kind": kind, "requester_id": str(owner.id), "unit_id": str(unit.id), "priority": priority,
            "channel": "written" if kind == "suggestion" else channel, "description": problem,
            "topic": TOPICS.get(problem, ""), "received_at": received.isoformat()}
    request = loop.create(agent, data)
    rid = request.id

    def due(at: datetime) -> bool:
        return at < now

    code = COMPLAINT_TEAM.get(problem, KIND_TEAM[kind])
    if rng.random() < 0.05:
        at = _working_time(rng, received, rng.uniform(0.2, 2))
        if due(at):
            loop.reject(agent, rid, {"explanation": "该事项不属于物业服务范围，已向业主说明。"}, at=at)
        return
    if rng.random() < 0.04:
        at = _working_time(rng, received, rng.uniform(0.2, 3))
        if due(at):
            loop.refer(agent, rid, {"referred_to": rng.choice(["燃气公司", "供电局", "居委会", "自来水公司"])},
                           at=at)
        return
    if kind in ("consultation",) and rng.random() < 0.7:
        at = _working_time(rng, received, rng.uniform(0.1, 1.5))
        if due(at):
            loop.resolve(agent, rid, {"resolution": "已电话答复业主。"}, at=at)
            _rate(loop, rng, agent, rid, at, now)
        return
    at = _working_time(rng, received, rng.expovariate(1 / 1.5))
    if not due(at):
        return
    worker = rng.choice(members[code])
    loop.dispatch(agent, rid, {"team_id": str(teams[code].id), "assignee_id": str(worker.id)}, at=at)
    at = _working_time(rng, at, rng.expovariate(1 / 3))
    if not due(at):
        return
    loop.start(worker, rid, {}, at=at)
    if rng.random() < 0.12:
        at = _working_time(rng, at, rng.uniform(0.5, 4))
        if not due(at):
            return
        loop.wait(worker, rid, {"note": "业主不在家，约定改日上门。"}, at=at)
        at = at + timedelta(hours=rng.uniform(4, 60))
        if not due(at):
            return
        loop.resume(worker, rid, {}, at=at)
    at = _working_time(rng, at, rng.expovariate(1 / 10))
    if not due(at):
        return
    loop.resolve(worker, rid, {"resolution": "已处理完毕。"}, at=at)
    rated_at = _rate(loop, rng, agent, rid, at, now)
    if rated_at and rng.random() < 0.08:
        again = rated_at + timedelta(hours=rng.uniform(2, 48))
        if due(again):
            loop.reopen(agent, rid, {"reason": "问题复发，业主再次报修。"}, at=again)
            at = _working_time(rng, again, rng.expovariate(1 / 6))
            if due(at):
                loop.resolve(worker, rid, {"resolution": "更换配件，已修复。"}, at=at)


def _rate(loop, rng, agent, rid, resolved_at, now) -> datetime | None:
    if rng.random() < 0.25:
        return None  # no feedback: ``trellis tick`` closes it after the timeout
    at = resolved_at + timedelta(hours=rng.uniform(1, 40))
    if at >= now:
        return None
    rating = rng.choices([5, 4, 3, 2, 1], [45, 30, 12, 8, 5])[0]
    comment = {5: "非常满意", 4: "满意", 3: "一般", 2: "不太满意，拖得太久", 1: "很不满意"}[rating]
    loop.give_feedback(agent, rid, {"rating": rating, "comment": comment}, at=at)
    return at


# --- the loop, in bulk -------------------------------------------------------------------------------

class _Clock:
    """Load time, one microsecond further at every call: audit entries, events, timeline entries and
    notifications are stamped when written, as the services stamp them, and never share an instant."""

    def __init__(self) -> None:
        self.last = utcnow()

    def __call__(self) -> datetime:
        self.last = max(utcnow(), self.last + timedelta(microseconds=1))
        return self.last


class _Loop:
    """The services' loop (``requests.create``, ``dispatch``, ``start``, ``wait``, ``resume``, ``resolve``,
    ``give_feedback``, ``reopen``, ``reject``, ``refer``) played on requests held in memory, writing at
    :meth:`flush` what those services would have written, through ``core.services.bulk.BulkRecorder``:
    each request with the version its UPDATEs would have given it, its workflow history, audit entries
    and events (with the versions they carried), the owners' timeline entries, the follow-up tasks and
    the notifications. The rules are the services' own (their SLA calendar and policies, ``_refresh``,
    ``_first_response``, ``sla.start_clocks``/``pause``/``unpause``, ``apply_changes``, the workflow's
    ``check_move`` and history values); what differs is only that nothing is flushed per call: the
    data set loads in under a second of CPU instead of about eight. The demo's actors are the centre and the
    teams' own members, so the permission checks the services make always pass and are not repeated."""

    def __init__(self, centre: list[User]) -> None:
        from core import runtime
        from core.services import interactions

        self.values, self.cal = requests._context()
        self.policies = sla.Policies()
        self.workflow = runtime.current().workflows.get(WORKFLOW)
        self.labels = {k.code: k.label_en for k in services.all_kinds()}
        self.centre_users = requests.centre_users()
        self.interaction_audited = interactions.AUDITED
        self.clock = _Clock()
        self.rows = BulkRecorder(None)  # the records themselves (who wrote them is in their audit entries)
        self.recorders: dict = {}
        self.requests: dict = {}
        self.deliver = runtime.current().plugins.pm.hook.trellis_deliver_notification
        self.notifications: list[tuple[dict, User]] = []

    def recorder(self, actor: User) -> BulkRecorder:
        if actor.id not in self.recorders:
            self.recorders[actor.id] = BulkRecorder(actor)
        return self.recorders[actor.id]

    # --- the bookkeeping a flush does ------------------------------------------------------------------

    def _flush(self, sim: "_Request") -> None:
        """What ``session.flush()`` does to the request: an UPDATE (version + 1) when a column changed."""
        if sim.row.__dict__ != sim.flushed:
            sim.row.version += 1
            sim.flushed = dict(sim.row.__dict__)

    def _audit(self, actor: User | None, verb: str, record, changes=None, *, payload=None, version) -> None:
        self.recorder(actor).change(verb, record, changes, payload=payload, at=self.clock(), version=version)

    def _move(self, actor: User, sim: "_Request", to: str, at: datetime, reason: str = "") -> None:
        """``workflow.transition``: the history row (backdated), the status set and flushed, the audit
        entry and event (stamped now, carrying the version after the flush)."""
        row = sim.row
        self._flush(sim)  # the service's changes so far reach the row first (autoflushed by the history query)
        source = row.status
        approved = check_move(actor, self.workflow, source, to, trigger=MANUAL, reason=reason)
        self.recorder(actor).add(WorkflowTransitionEntry, **history_values(
            self.workflow, row.id, source, to, at=at, actor=actor, approved_by=approved, trigger=MANUAL,
            event=None, reason=reason, entered=sim.entered))
        sim.moves.append((source, to))
        sim.entered = at
        row.status = to
        self._flush(sim)
        self._audit(actor, "status_changed", row, {"status": (source, to)}, version=row.version,
                    payload=move_payload(self.workflow, source, to, trigger=MANUAL, event=None, reason=reason,
                                         approved_by=approved))

    def _refresh(self, sim: "_Request", at: datetime) -> None:
        requests._refresh(sim.row, at, policies=self.policies, values=self.values, cal=self.cal)

    def _interaction(self, actor: User, data: dict) -> Any:
        """``interactions.create`` by ``actor`` with ``source="property_service"``: the entry on the
        requester's timeline (or task), its audit entry and event."""
        from core.models import Interaction
        from core.schemas import InteractionCreate
        from core.services import audit

        values = common.validate(InteractionCreate, data)
        values.setdefault("status", "planned" if values.get("due_at") and not values.get("occurred_at") else "done")
        if values["status"] == "planned":
            values.setdefault("assignee_id", actor.id)
        at = self.clock()
        entry = Interaction(**{**_defaults(Interaction), **values, "created_by_id": actor.id,
                               "source": requests.SOURCE, "id": uuid.uuid4(), "created_at": at, "updated_at": at,
                               "version": 1, "deleted_at": None})
        self.rows.add(Interaction, **_columns(entry))
        self._audit(actor, "created", entry, audit.created_fields(entry, self.interaction_audited), version=1,
                    payload={"customer_id": entry.customer_id, "kind": entry.kind, "source": requests.SOURCE})
        return entry

    def _notify(self, user: User, kind: str, title: str, body: str, sim: "_Request", data: dict,
                dedupe_key: str | None = None) -> None:
        """``notifications.notify`` of a new request event (a new dedupe key: never sent before)."""
        from core.services.audit import jsonable

        row = dict(id=uuid.uuid4(), user_id=user.id, kind=kind, title=title[:200], body=body,
                   dedupe_key=f"{user.id}:{dedupe_key}"[:200] if dedupe_key else None,
                   record_type=PsRequest.__tablename__, record_id=sim.row.id, data=jsonable(dict(data)),
                   created_at=self.clock(), read_at=None)
        self.rows.add(Notification, **row)
        self.notifications.append((row, user))

    # --- the services ----------------------------------------------------------------------------------

    def create(self, agent: User, data: dict) -> PsRequest:
        values = common.validate(s.RequestCreate, data)
        received = values.pop("received_at")
        unit = db.session().get(PsUnit, values["unit_id"])
        values.update(building_id=unit.building_id, photos=[], attributes={})
        row = PsRequest(**{**_defaults(PsRequest), **values, "id": uuid.uuid4(), "status": ACCEPTED,
                           "created_at": received, "updated_at": received, "version": 1, "deleted_at": None})
        sla.start_clocks(row, received, self.cal, self.policies.targets(row.kind, row.priority))
        sim = self.requests[row.id] = _Request(row, received)
        from core.services import audit

        self._audit(agent, "created", row, audit.created_fields(row, requests.AUDITED), version=1,
                    payload={"requester_id": row.requester_id, "kind": row.kind})
        entry = self._interaction(agent, {
            "customer_id": str(row.requester_id), "kind": "property_service_request", "direction": "inbound",
            "status": "done", "occurred_at": received.isoformat(),
            "subject": f"{self.labels[row.kind]}: {row.description[:150]}", "notes": row.description})
        row.interaction_id = entry.id
        self._flush(sim)
        self._refresh(sim, received)
        self._flush(sim)
        return row

    def dispatch(self, agent: User, rid, data: dict, *, at: datetime) -> None:
        sim = self.requests[rid]
        row = sim.row
        team_id, assignee_id = uuid.UUID(data["team_id"]), uuid.UUID(data["assignee_id"])
        changes = common.apply_changes(row, {"team_id": team_id, "assignee_id": assignee_id})
        requests._first_response(row, at, self.cal)
        self._move(agent, sim, DISPATCHED, at)
        self._refresh(sim, at)
        self._flush(sim)
        self._audit(agent, "dispatched", row, changes, payload={"team_id": team_id, "note": ""}, version=row.version)
        worker = db.session().get(User, assignee_id)
        self._notify(worker, "property_service.dispatched",
                     f"New {self.labels[row.kind].lower()}: {row.description[:120]}", "", sim,
                     {"team_id": team_id, "priority": row.priority})

    def start(self, worker: User, rid, data: dict, *, at: datetime) -> None:
        sim = self.requests[rid]
        requests._first_response(sim.row, at, self.cal)
        self._move(worker, sim, IN_PROGRESS, at)
        self._refresh(sim, at)
        self._flush(sim)

    def wait(self, worker: User, rid, data: dict, *, at: datetime) -> None:
        sim = self.requests[rid]
        requests._first_response(sim.row, at, self.cal)
        self._move(worker, sim, WAITING, at, data["note"])
        sla.pause(sim.row, at)
        self._flush(sim)

    def resume(self, worker: User, rid, data: dict, *, at: datetime) -> None:
        sim = self.requests[rid]
        last = sim.moves[-1][0] if sim.moves else None
        previous = last if last in (ACCEPTED, DISPATCHED, IN_PROGRESS) else IN_PROGRESS
        sla.unpause(sim.row, at, self.cal)
        self._move(worker, sim, previous, at)
        self._refresh(sim, at)
        self._flush(sim)

    def resolve(self, actor: User, rid, data: dict, *, at: datetime) -> None:
        sim = self.requests[rid]
        row = sim.row
        requests._first_response(row, at, self.cal)
        row.resolution = data["resolution"]
        row.resolved_at = at
        start_at = row.clock_started_at or row.created_at
        row.resolution_seconds = max(self.cal.between(start_at, at) - (row.paused_seconds or 0.0), 0.0)
        self._move(actor, sim, RESOLVED, at, data["resolution"][:2000])
        self._refresh(sim, at)
        self._flush(sim)

    def _end(self, agent: User, rid, to: str, at: datetime, reason: str, changes: dict) -> None:
        sim = self.requests[rid]
        sla.unpause(sim.row, at, self.cal)
        requests._first_response(sim.row, at, self.cal)
        common.apply_changes(sim.row, changes)
        self._move(agent, sim, to, at, reason[:2000])
        self._refresh(sim, at)
        self._flush(sim)

    def reject(self, agent: User, rid, data: dict, *, at: datetime) -> None:
        self._end(agent, rid, REJECTED, at, data["explanation"], {"explanation": data["explanation"]})

    def refer(self, agent: User, rid, data: dict, *, at: datetime) -> None:
        self._end(agent, rid, REFERRED, at, f"Referred to {data['referred_to']}", {"referred_to": data["referred_to"]})

    def reopen(self, agent: User, rid, data: dict, *, at: datetime) -> None:
        sim = self.requests[rid]
        row = sim.row
        self._move(agent, sim, DISPATCHED if row.team_id else ACCEPTED, at, data["reason"])
        requests.reset_for_reopening(row, at, self.cal, self.policies.targets(row.kind, row.priority))
        self._refresh(sim, at)
        self._flush(sim)
        self._audit(agent, "reopened", row, {"reopen_count": (row.reopen_count - 1, row.reopen_count)},
                    payload={"reason": data["reason"]}, version=row.version)

    def give_feedback(self, agent: User, rid, data: dict, *, at: datetime) -> None:
        sim = self.requests[rid]
        row = sim.row
        rating, comment = data["rating"], data["comment"]
        changes = common.apply_changes(row, {"rating": rating, "feedback_comment": comment, "feedback_at": at,
                                             "feedback_token_hash": None, "feedback_via": "on_behalf",
                                             "feedback_by_id": agent.id})
        if row.status == RESOLVED:
            row.closed_at = at
            self._move(agent, sim, CLOSED, at, f"Rated {rating}/5")
        self._flush(sim)
        self._audit(agent, "feedback", row, changes, payload={"rating": rating, "via": "api"}, version=row.version)
        label = self.labels[row.kind].lower()
        self._interaction(agent, {
            "customer_id": str(row.requester_id), "kind": "property_service_feedback", "direction": "inbound",
            "status": "done", "occurred_at": at.isoformat(), "score": rating, "score_scale": "csat",
            "subject": f"Rated {rating}/5: {label}", "notes": comment})
        if rating <= self.values["low_rating_threshold"]:
            # requests._follow_up: a follow-up task for the centre, due within a working day
            assignee = (self.centre_users or [agent])[0]
            task = self._interaction(agent, {
                "customer_id": str(row.requester_id), "kind": "property_service_follow_up", "direction": "outbound",
                "status": "planned",
                "due_at": self.cal.add(max(at, utcnow()), self.cal.seconds_per_day or 8 * 3600).isoformat(),
                "assignee_id": str(assignee.id), "subject": f"Follow up a {rating}/5 rating: {label}",
                "notes": comment})
            row.follow_up_id = task.id
            self._flush(sim)
            for user in self.centre_users:
                self._notify(user, "property_service.low_rating", f"Rated {rating}/5: {row.description[:100]}",
                             comment, sim, {"follow_up_id": task.id},
                             dedupe_key=f"ps.low_rating:{row.id}:{at.isoformat()}")

    # --- writing ---------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every request as the loop left it, then the timeline entries, notifications, histories,
        audit entries and events; hand each notification to the delivery hooks, as ``notify`` does."""
        from core.models import Interaction

        for sim in self.requests.values():
            self.rows.add(PsRequest, **{**_columns(sim.row), "updated_at": self.clock()})
        self.rows.flush([PsRequest, Interaction, Notification])
        for rec in self.recorders.values():
            rec.flush([])
        if self.deliver.get_hookimpls():
            for row, user in self.notifications:
                self.deliver(notification=db.session().get(Notification, row["id"]), user=user)


class _Request:
    """A request of the loop: its row (a PsRequest never added to the session), the columns as last
    flushed, when it entered its state and its moves so far."""

    def __init__(self, row: PsRequest, received: datetime) -> None:
        # every column in the instance's __dict__ (as after the INSERT), so that comparing two copies of
        # it tells whether the service's flush would have issued an UPDATE, without the ORM's getattr cost
        for key, value in _columns(row).items():
            setattr(row, key, value)
        self.row = row
        self.flushed = dict(row.__dict__)
        self.entered = received
        self.moves: list[tuple[str, str]] = []


def _columns(record) -> dict:
    return {c.key: getattr(record, c.key) for c in record.__table__.columns}


def _defaults(model) -> dict:
    """The Python-side scalar defaults of ``model``'s columns, as an INSERT applies them."""
    return {c.key: c.default.arg for c in model.__table__.columns
            if c.default is not None and c.default.is_scalar}
