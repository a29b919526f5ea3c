"""The API contract, checked by generated requests: no input gets a 5xx, and every response matches the
OpenAPI document (status code, body schema, content type, headers). GraphQL gets the same no-5xx run.

schemathesis generates the requests from the served documents (positive and negative cases), sends them
to the Flask app in-process (WSGI) as an admin and as a rep, and checks each response. The budget here is
small and fixed (derandomized, ``FUZZ_EXAMPLES`` per operation) so CI stays fast; ``bench/fuzz_api.py``
runs the same tests on a bigger budget by hand (docs/security.md has its figures).
"""
from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi
from api.graphql.errors import INTERNAL
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.graphql import nodes
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# test budget, not app configuration: bench/fuzz_api.py raises it
FUZZ_EXAMPLES = int(os.environ.get("TRELLIS_FUZZ_EXAMPLES", "2"))
FUZZ_SETTINGS = settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
REST_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_schema_conformance, response_headers_conformance]
ROLES = ("admin", "rep")

# figures for bench/fuzz_api.py: status code → count, per transport
TALLY: dict[str, dict[int, int]] = {"rest": {}, "graphql": {}}


def _count(transport: str, status: int) -> None:
    TALLY[transport][status] = TALLY[transport].get(status, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report_tally():
    yield
    path = os.environ.get("TRELLIS_FUZZ_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(TALLY, fh)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def rest_schema(app, runtime, tokens):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=_bearer(tokens["admin"]))


# the schema's own scalars, as clients write them: amounts and decimals are decimal strings
_DECIMALS = st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
for _scalar in ("Money", "Decimal"):
    schemathesis.graphql.scalar(_scalar, _DECIMALS.map(lambda d: nodes.String(str(d))))


@pytest.fixture
def graphql_schema(app, runtime, tokens):
    return schemathesis.graphql.from_wsgi("/graphql", app, headers=_bearer(tokens["admin"]))


def no_internal_graphql_error(ctx, response, case):
    """A GraphQL answer is no 5xx and carries no INTERNAL_SERVER_ERROR (a FORBIDDEN, NOT_FOUND or
    BAD_USER_INPUT error is an answer; schemathesis' own check counts every GraphQL error as a failure)."""
    assert response.status_code < 500, f"{response.status_code} from {case.body}"
    try:
        body = response.json()
    except ValueError:  # a 4xx in plain text (strawberry's own refusals)
        body = {}
    internal = [e for e in (body if isinstance(body, dict) else {}).get("errors") or [] if (e.get("extensions") or {}).get("code") == INTERNAL]
    assert not internal, f"internal error {internal} from {case.body}"


def _fuzz(schema, tokens, transport: str, checks) -> list[str]:
    """Run every operation of ``schema`` on the budget, as each role; every failure, described."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE))

        @FUZZ_SETTINGS
        @given(case=strategy)
        def run(case):
            for role in ROLES:
                response = case.call(headers=_bearer(tokens[role]))
                _count(transport, response.status_code)
                case.validate_response(response, checks=checks)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collected, so one run names every failing operation
            failures.append(f"{operation.label}: " + "\n".join(str(exc).splitlines()[:14]))
    return failures


def test_served_openapi_document_is_valid(api):
    document = api.get("/api/v1/openapi.json").get_json()
    validate_openapi(document)  # raises, naming the first problem
    header = document["components"]["headers"]["PAGINATION"]
    assert header["schema"] == {"type": "string"}  # it is sent as a JSON string


def test_decimal_bounds_are_numbers_and_decimal_strings_are_strings(api):
    schemas = api.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    amount = schemas["InteractionCreate"]["properties"]["amount"]
    assert (amount["minimum"], amount["maximum"]) == (-10**11, 10**11)
    assert schemas["TierOut"]["properties"]["discount"] == {"type": "string", "format": "decimal"}


def test_every_operation_documents_its_success_response(api):
    document = api.get("/api/v1/openapi.json").get_json()
    undocumented = [f"{method.upper()} {path}" for path, operations in document["paths"].items()
                    for method, operation in operations.items() if method != "parameters"
                    and not any(code.startswith("2") for code in operation["responses"])]
    assert undocumented == []


def test_405_names_the_allowed_methods(api):
    response = api.put("/api/v1/customers", json={})
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert response.get_json()["code"] == 405


def test_rest_answers_every_input_without_5xx_and_as_documented(rest_schema, tokens):
    failures = _fuzz(rest_schema, tokens, "rest", REST_CHECKS)
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)


def test_graphql_answers_every_operation_without_5xx(graphql_schema, tokens):
    failures = _fuzz(graphql_schema, tokens, "graphql", [no_internal_graphql_error])
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
