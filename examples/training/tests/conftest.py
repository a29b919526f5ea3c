"""The training plugin's tests use Trellis's test kit (the pytest plugin that comes with trellis-crm):
`api`, `people`, `runtime`, `uow`, `count_queries`, `contract` … Only this plugin is enabled."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def trellis_settings():
    return {"PLUGINS": "training"}


class School:
    """A coordinator with a token, a course, and a customer of each of two reps, made through the API."""

    def __init__(self, api):
        self.api = api
        user = api.post("/api/v1/users", json={"email": "cora@example.com", "name": "Cora Coordinator",
                                              "role": "training_coordinator"}).get_json()
        api.tokens["coordinator"] = api.post("/api/v1/tokens", json={"user_id": user["id"]}).get_json()["token"]
        self.coordinator = api.as_("coordinator")
        self.rep_customer = self.customer("rep", "Rep's customer")
        self.other_customer = self.customer("other_rep", "Other rep's customer")
        self.course = self.new_course("TR-101", capacity=2)

    def customer(self, who, name):
        response = self.api.as_(who).post("/api/v1/customers", json={"name": name})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    def new_course(self, code, capacity=2, starts_on="2026-03-02"):
        response = self.coordinator.post("/api/v1/training/courses", json={
            "code": code, "name": f"Course {code}", "capacity": capacity, "price": "1200.00", "starts_on": starts_on})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def enrol(self, who, customer_id, course=None):
        response = self.api.as_(who).post("/api/v1/training/enrolments", json={
            "course_id": (course or self.course)["id"], "customer_id": customer_id})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def move(self, who, enrolment, to):
        return self.api.as_(who).post(f"/api/v1/training/enrolments/{enrolment['id']}/move", json={"to": to})


@pytest.fixture
def school(api, people):
    return School(api)
