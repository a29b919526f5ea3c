"""The Chinese holiday calendar (issue #19): the official holidays and lunar festivals from the
``holidays`` package (and ``lunar_python``), holiday campaigns that ``trellis tick`` launches on the
holiday's date each year, occasion reminders on those dates, the list of holidays over REST and GraphQL,
and ``TRELLIS_HOLIDAY_CALENDAR``."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from core import holiday_calendar
from core.config import load_settings
from tests.plugins.retail_membership.conftest import BASE, enrol
from tests.plugins.retail_membership.test_jobs_and_campaigns import notifications
from tests.plugins.retail_membership.test_points import run_job


def test_the_chinese_calendar_knows_the_lunar_holidays():
    assert holiday_calendar.date_of("spring_festival", 2027) == date(2027, 2, 6)
    assert holiday_calendar.date_of("spring_festival", 2026) == date(2026, 2, 17)
    assert holiday_calendar.date_of("mid_autumn", 2026) == date(2026, 9, 25)
    assert holiday_calendar.date_of("dragon_boat", 2026) == date(2026, 6, 19)
    assert holiday_calendar.date_of("qingming", 2026) == date(2026, 4, 5)
    assert holiday_calendar.date_of("national_day", 2026) == date(2026, 10, 1)
    # lunar festivals that are no days off: 7/7 and 9/9 of the lunar calendar, 12/8 falls in January
    assert holiday_calendar.date_of("qixi", 2026) == date(2026, 8, 19)
    assert holiday_calendar.date_of("double_ninth", 2026) == date(2026, 10, 18)
    assert holiday_calendar.date_of("lantern_festival", 2027) == date(2027, 2, 20)
    assert holiday_calendar.date_of("laba", 2027) == date(2027, 1, 15)
    by_key = {h.key: h for h in holiday_calendar.holidays_in(2026)}
    assert (by_key["spring_festival"].zh_cn, by_key["spring_festival"].days) == ("春节", 3)
    assert (by_key["national_day"].en, by_key["national_day"].zh_cn, by_key["national_day"].days) == (
        "National Day", "国庆节", 3)
    assert by_key["qixi"].category == "observance" and not by_key["qixi"].official
    assert by_key["womens_day"].category == "half_day"
    # observed days and the State Council's moved days off are not occasions
    assert not any("observed" in h.en.lower() or h.en.lower().startswith("day off") for h in by_key.values())


def test_another_country_and_a_subdivision():
    us = {h.key: h.date for h in holiday_calendar.holidays_in(2026, "US", "CA")}
    assert us["independence_day"] == date(2026, 7, 4) and "cesar_chavez_day" in us
    assert "spring_festival" not in us and "qixi" not in us
    assert holiday_calendar.date_of("spring_festival", 2027, "TW") == date(2027, 2, 6)


def test_an_unknown_calendar_stops_the_start():
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="TRELLIS_HOLIDAY_CALENDAR.*'XX' is not a country code"):
        load_settings(environ={"TRELLIS_HOLIDAY_CALENDAR": "XX"})
    with pytest.raises(ConfigError, match="'ZZ' is not a subdivision of US"):
        load_settings(environ={"TRELLIS_HOLIDAY_CALENDAR": "US", "TRELLIS_HOLIDAY_SUBDIVISION": "ZZ"})
    settings = load_settings(environ={"TRELLIS_HOLIDAY_CALENDAR": "hk"})
    hong_kong = {h.key: h for h in holiday_calendar.for_settings(settings).holidays_in(2026)}
    # in Hong Kong the Double Ninth (重阳节) is a public holiday, listed once
    assert hong_kong["double_ninth"].date == date(2026, 10, 18) and hong_kong["double_ninth"].official


def test_the_holidays_a_campaign_can_use_over_rest_and_graphql(shop):
    response = shop.api.get(f"{BASE}/holidays?from=2026-12-01&to=2027-10-31")
    assert response.status_code == 200, response.get_json()
    rows = response.get_json()
    assert [r["key"] for r in rows][:4] == ["new_year", "laba", "spring_festival_eve", "spring_festival"]
    spring = next(r for r in rows if r["key"] == "spring_festival")
    assert spring == {"key": "spring_festival", "date": "2027-02-06", "days": 3, "category": "public",
                      "official": True, "label": {"en": "Chinese New Year (Spring Festival)", "zh_cn": "春节"}}
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    # store staff may read it too; bad dates are a 422 naming the field
    assert shop.api.as_("staff_north").get(f"{BASE}/holidays").status_code == 200
    bad = shop.api.get(f"{BASE}/holidays?from=2027-01-01&to=2026-01-01")
    assert bad.status_code == 422 and "to" in str(bad.get_json())
    data = shop.api.graphql('{ retailHolidays(from: "2026-09-01", to: "2026-10-31") { key date days category '
                            'official label { en zhCn } } }')
    got = data["data"]["retailHolidays"]
    assert [(h["key"], h["date"]) for h in got] == [("mid_autumn", "2026-09-25"), ("national_day", "2026-10-01"),
                                                    ("double_ninth", "2026-10-18")]
    assert got[0]["label"] == {"en": "Mid-Autumn Festival", "zhCn": "中秋节"} and got[0]["category"] == "PUBLIC"
    assert got[2]["category"] == "OBSERVANCE"


def _campaign(api, **extra):
    body = {"name": "Spring Festival gifts", "offer_kind": "sample", "goal_days": 14, "control_share": "0.2", **extra}
    response = api.post(f"{BASE}/campaigns", json=body)
    return response


def test_a_spring_festival_campaign_is_launched_on_the_day_in_two_years(shop):
    for i in range(10):
        enrol(shop.api, shop.north, name=f"Member {i}")
    response = _campaign(shop.api, holiday="spring_festival", repeat_yearly=True)
    assert response.status_code == 201, response.get_json()
    first = response.get_json()
    today = datetime.now(timezone.utc).date()
    expected = holiday_calendar.next_on_or_after("spring_festival", today)
    assert first["scheduled_on"] == expected.isoformat() and first["status"] == "draft"
    # the day before: nothing; on the day: launched, and next year's copy scheduled
    on_the_day = datetime(expected.year, expected.month, expected.day, 1, tzinfo=timezone.utc)
    assert run_job(shop.runtime, "retail_membership.holiday_campaigns", on_the_day - timedelta(days=1)) == 0
    assert run_job(shop.runtime, "retail_membership.holiday_campaigns", on_the_day) == 1
    assert run_job(shop.runtime, "retail_membership.holiday_campaigns", on_the_day) == 0
    launched = shop.api.get(f"{BASE}/campaigns/{first['id']}").get_json()
    assert launched["status"] == "launched" and launched["launched_at"].startswith(expected.isoformat())
    assert launched["treated_count"] + launched["control_count"] == 10 and launched["scheduled_on"] is None
    drafts = shop.api.get(f"{BASE}/campaigns?status=draft").get_json()
    [copy] = [c for c in drafts if c["holiday"] == "spring_festival"]
    next_year = holiday_calendar.date_of("spring_festival", expected.year + 1)
    assert copy["scheduled_on"] == next_year.isoformat() and copy["repeat_yearly"] is True
    later = datetime(next_year.year, next_year.month, next_year.day, 1, tzinfo=timezone.utc)
    assert run_job(shop.runtime, "retail_membership.holiday_campaigns", later) == 1
    assert shop.api.get(f"{BASE}/campaigns/{copy['id']}").get_json()["status"] == "launched"
    # the launch is in the campaign's history, moved automatically on behalf of who scheduled it
    from sqlalchemy import select

    from core import db
    from core.models import AuditEntry

    with shop.runtime.database.unit_of_work():
        verbs = [a.action for a in db.session().scalars(
            select(AuditEntry).where(AuditEntry.record_id == uuid.UUID(first["id"])).order_by(AuditEntry.at))]
    assert "retail_membership_campaign.launched" in verbs


def test_known_dates_two_years_apart(shop):
    """A campaign keyed to spring_festival created in December 2026 is scheduled on 2027-02-06, and
    one created in December 2027 on 2028-01-26: the key resolves to each year's lunar date."""
    from plugins.retail_membership import campaigns

    with shop.runtime.database.unit_of_work():
        a = campaigns.create(shop.people.admin, {"name": "A", "offer_kind": "sample", "holiday": "spring_festival"},
                             today=date(2026, 12, 4))
        b = campaigns.create(shop.people.admin, {"name": "B", "offer_kind": "sample", "holiday": "spring_festival",
                                                 "holiday_offset_days": -3}, today=date(2027, 12, 4))
        c = campaigns.create(shop.people.admin, {"name": "C", "offer_kind": "sample", "holiday": "mid_autumn"},
                             today=date(2026, 9, 26))   # this year's has passed: next year's
        assert (a.scheduled_on, b.scheduled_on, c.scheduled_on) == (date(2027, 2, 6), date(2028, 1, 23),
                                                                    date(2027, 9, 15))


def test_an_unknown_holiday_is_a_422_naming_it(shop):
    response = _campaign(shop.api, holiday="thanksgiving_day")
    assert response.status_code == 422 and list(response.get_json()["errors"]["json"]) == ["holiday"]
    assert "spring_festival" in response.get_json()["errors"]["json"]["holiday"][0]   # the keys it knows
    response = _campaign(shop.api, holiday="spring_festival", holiday_offset_days=365)
    assert response.status_code == 422 and list(response.get_json()["errors"]["json"]) == ["holiday_offset_days"]
    assert shop.api.get(f"{BASE}/campaigns").get_json() == []


def test_the_configured_calendar_decides(shop, monkeypatch):
    runtime = shop.runtime
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, holiday_calendar="US", holiday_subdivision=""))
    rows = shop.api.get(f"{BASE}/holidays?from=2026-07-01&to=2026-07-31").get_json()
    assert [(r["key"], r["date"]) for r in rows] == [("independence_day", "2026-07-04")]
    assert _campaign(shop.api, holiday="spring_festival").status_code == 422
    response = _campaign(shop.api, holiday="thanksgiving_day")
    assert response.status_code == 201, response.get_json()
    today = datetime.now(timezone.utc).date()
    assert response.get_json()["scheduled_on"] == holiday_calendar.next_on_or_after(
        "thanksgiving_day", today, "US").isoformat()


def test_occasion_reminders_know_the_lunar_holidays(shop):
    when = datetime(2027, 2, 4, 8, tzinfo=timezone.utc)   # the Spring Festival is on 02-06 in 2027
    sent = run_job(shop.runtime, "retail_membership.occasions", when)
    titles = [n["title"] for n in notifications(shop.api, "staff_north")]
    assert "Chinese New Year (Spring Festival) (春节) on 02-06" in titles
    assert "Chinese New Year's Eve (农历除夕) on 02-05" in titles
    assert sent == 4   # two holidays × two stores
    assert run_job(shop.runtime, "retail_membership.occasions", when) == 0
    # Qixi 2026 is on 08-19; Valentine's day of the programme is still greeted on 02-14
    assert run_job(shop.runtime, "retail_membership.occasions", datetime(2026, 8, 17, tzinfo=timezone.utc)) == 2
    assert any("Qixi Festival (七夕节) on 08-19" == n["title"] for n in notifications(shop.api, "staff_south"))


@pytest.mark.parametrize("key", ["spring_festival", "mid_autumn", "dragon_boat", "national_day", "qixi",
                                 "double_ninth"])
def test_every_documented_key_resolves_in_the_coming_years(key):
    for year in (2026, 2027, 2028):
        assert holiday_calendar.date_of(key, year) is not None


def test_a_holiday_campaign_over_graphql(shop):
    data = shop.api.graphql('mutation { createRetailCampaign(input: {name: "Mooncakes", offerKind: SAMPLE, '
                            'holiday: "mid_autumn", holidayOffsetDays: -5, repeatYearly: true}) '
                            '{ holiday holidayOffsetDays repeatYearly scheduledOn status } }')
    assert "errors" not in data, data
    got = data["data"]["createRetailCampaign"]
    today = datetime.now(timezone.utc).date()
    assert got == {"holiday": "mid_autumn", "holidayOffsetDays": -5, "repeatYearly": True, "status": "DRAFT",
                   "scheduledOn": holiday_calendar.next_on_or_after("mid_autumn", today, offset_days=-5).isoformat()}
    bad = shop.api.graphql('mutation { createRetailCampaign(input: {name: "X", offerKind: SAMPLE, holiday: "nope"}) '
                           '{ id } }')
    assert bad["errors"][0]["extensions"]["fields"]["holiday"]
