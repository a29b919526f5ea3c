"""Property service (物业服务): demo data for ``trellis demo``.

An estate (翠湖花园) with four buildings and 96 units, ~80 owners and residents, the four standard teams
with managers and members, two centre agents, and ~300 service requests over the last half year, carried
through the loop by the services at the times they would have happened: dispatched, worked, some waiting
on the owner, resolved, rated (a few poorly, which opens follow-ups), some reopened, rejected or
referred, the recent ones still open. Everything comes from the seeded ``rng``; a second run adds nothing.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select

from core import db
from core.db import utcnow
from core.models import User
from plugins.property_service import requests, services
from plugins.property_service.models import PsEstate

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
    for index in range(REQUESTS):
        _one_request(rng, now, index, residents, rng.choices(kinds, weights)[0], teams, members, centre)
        progress(1)
    requests.check_sla(now)


def _working_time(rng: random.Random, start: datetime, hours: float) -> datetime:
    from plugins.property_service import sla

    return sla.calendar().add(start, max(hours, 0.05) * 3600)


def _one_request(rng, now, index, residents, kind, teams, members, centre) -> None:
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
    request = requests.create(agent, data)
    rid = request.id

    def due(at: datetime) -> bool:
        return at < now

    code = COMPLAINT_TEAM.get(problem, KIND_TEAM[kind])
    if rng.random() < 0.05:
        at = _working_time(rng, received, rng.uniform(0.2, 2))
        if due(at):
            requests.reject(agent, rid, {"explanation": "该事项不属于物业服务范围，已向业主说明。"}, at=at)
        return
    if rng.random() < 0.04:
        at = _working_time(rng, received, rng.uniform(0.2, 3))
        if due(at):
            requests.refer(agent, rid, {"referred_to": rng.choice(["燃气公司", "供电局", "居委会", "自来水公司"])},
                           at=at)
        return
    if kind in ("consultation",) and rng.random() < 0.7:
        at = _working_time(rng, received, rng.uniform(0.1, 1.5))
        if due(at):
            requests.resolve(agent, rid, {"resolution": "已电话答复业主。"}, at=at)
            _rate(rng, agent, rid, at, now)
        return
    at = _working_time(rng, received, rng.expovariate(1 / 1.5))
    if not due(at):
        return
    worker = rng.choice(members[code])
    requests.dispatch(agent, rid, {"team_id": str(teams[code].id), "assignee_id": str(worker.id)}, at=at)
    at = _working_time(rng, at, rng.expovariate(1 / 3))
    if not due(at):
        return
    requests.start(worker, rid, {}, at=at)
    if rng.random() < 0.12:
        at = _working_time(rng, at, rng.uniform(0.5, 4))
        if not due(at):
            return
        requests.wait(worker, rid, {"note": "业主不在家，约定改日上门。"}, at=at)
        at = at + timedelta(hours=rng.uniform(4, 60))
        if not due(at):
            return
        requests.resume(worker, rid, {}, at=at)
    at = _working_time(rng, at, rng.expovariate(1 / 10))
    if not due(at):
        return
    requests.resolve(worker, rid, {"resolution": "已处理完毕。"}, at=at)
    rated_at = _rate(rng, agent, rid, at, now)
    if rated_at and rng.random() < 0.08:
        again = rated_at + timedelta(hours=rng.uniform(2, 48))
        if due(again):
            requests.reopen(agent, rid, {"reason": "问题复发，业主再次报修。"}, at=again)
            at = _working_time(rng, again, rng.expovariate(1 / 6))
            if due(at):
                requests.resolve(worker, rid, {"resolution": "更换配件，已修复。"}, at=at)


def _rate(rng, agent, rid, resolved_at, now) -> datetime | None:
    if rng.random() < 0.25:
        return None  # no feedback: ``trellis tick`` closes it after the timeout
    at = resolved_at + timedelta(hours=rng.uniform(1, 40))
    if at >= now:
        return None
    rating = rng.choices([5, 4, 3, 2, 1], [45, 30, 12, 8, 5])[0]
    comment = {5: "非常满意", 4: "满意", 3: "一般", 2: "不太满意，拖得太久", 1: "很不满意"}[rating]
    requests.give_feedback(agent, rid, {"rating": rating, "comment": comment}, at=at)
    return at
