"""Issue #19 item 8 (exhibitions): counts users read — the visitor count, a lead scanned again, survey
answers (visitors and exhibitors apart, one answer per respondent and survey) and the survey list."""
from __future__ import annotations

from tests.plugins.exhibitions.conftest import BASE, ok, participate, register


def test_visitor_count_leaves_out_cancelled_registrations(show):
    regs = [register(show, show.first, f"Visitor {i}") for i in range(3)]
    ok(show.api.post(f"{BASE}/registrations/{regs[0]['id']}/cancel"))
    answer = show.api.graphql("""query($id: ID!) { exhibitionEdition(id: $id) { visitorCount
      visitors { totalCount } metrics { registrations } } }""", {"id": show.first["id"]})
    assert answer["data"]["exhibitionEdition"] == {"visitorCount": 2, "visitors": {"totalCount": 3},
                                                   "metrics": {"registrations": 2}}


def survey(show, who="organiser", **body):
    return show.as_(who).post(f"{BASE}/surveys", json={"edition_id": show.first["id"], **body})


def test_visitors_and_exhibitors_are_reported_apart_and_a_re_answer_replaces(show):
    p = participate(show, "alpha", show.first)
    wang, li = register(show, show.first, "Wang Wei"), register(show, show.first, "Li Na")
    first = ok(survey(show, registration_id=wang["id"], satisfaction=2, comment="queues"), 201)
    again = survey(show, registration_id=wang["id"], satisfaction=4, comment="better on day 2")
    assert again.status_code == 200
    assert (again.get_json()["id"], again.get_json()["satisfaction"]) == (first["id"], 4)
    ok(survey(show, registration_id=li["id"], satisfaction=5), 201)
    ok(survey(show, registration_id=li["id"], phase="during", satisfaction=3), 201)   # another survey
    ok(survey(show, "alpha", participation_id=p["id"], satisfaction=1), 201)
    ok(survey(show, "alpha", participation_id=p["id"], satisfaction=2), 200)
    metrics = ok(show.api.get(f"{BASE}/editions/{show.first['id']}/metrics"))
    assert (metrics["visitor_satisfaction"], metrics["exhibitor_satisfaction"]) == (4.0, 2.0)   # (4+5+3)/3, 2
    assert (metrics["visitor_survey_answers"], metrics["exhibitor_survey_answers"]) == (3, 1)
    assert "satisfaction" not in metrics
    timeline = ok(show.api.get(f"/api/v1/customers/{wang['visitor_id']}/timeline"))
    assert [(t["subject"][-16:], t["notes"]) for t in timeline if t["kind"] == "exhibitions_survey"] == [
        ("satisfaction 4/5", "better on day 2")]


def test_survey_answers_are_listed_scoped_filtered_and_paged(show):
    p = participate(show, "alpha", show.first)
    q = participate(show, "beta", show.first)
    regs = [register(show, show.first, f"Visitor {i}") for i in range(3)]
    for i, reg in enumerate(regs):
        ok(survey(show, registration_id=reg["id"], satisfaction=i + 3), 201)
    ok(survey(show, "alpha", participation_id=p["id"], satisfaction=4), 201)
    ok(survey(show, "beta", participation_id=q["id"], satisfaction=2), 201)
    listed = show.api.get(f"{BASE}/surveys?edition_id={show.first['id']}&page_size=2&sort=-satisfaction")
    assert listed.status_code == 200 and '"total": 5' in listed.headers["X-Pagination"]
    assert [a["satisfaction"] for a in listed.get_json()] == [5, 4]
    visitors = ok(show.api.get(f"{BASE}/surveys?respondent=visitor&sort=satisfaction"))
    assert [a["satisfaction"] for a in visitors] == [3, 4, 5]
    assert [a["participation_id"] for a in ok(show.as_("alpha").get(f"{BASE}/surveys"))] == [p["id"]]
    assert ok(show.as_("rep").get(f"{BASE}/surveys")) == []
    bad = show.api.get(f"{BASE}/surveys?respondent=martian")
    assert bad.status_code == 422 and "respondent" in bad.get_json()["errors"]["query"]
