"""Fuzz the service API from its own OpenAPI document (schemathesis), against a real service host.

Every operation in the document is exercised with generated valid and invalid parameters and
bodies four times over: with an operate token, an approve token, a read token and no token.
Whatever comes back must be in the document (status code, content type, headers, body schema),
never a 5xx, and the auth rules hold for every route: 401 without a token, 403 for a POST the
token's scope does not cover (operate for actions, approve for reviewing a version). schemathesis' ``ignored_auth`` check also re-sends successful requests without
and with a wrong token and fails if either gets through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings

from tradepulse.service.auth import bearer_token

# The running service (a real host on paper, uvicorn in its event loop), as in the routes test.
from service_fixtures import (  # noqa: F401 - fixture
    APPROVE_TOKEN,
    OPERATE_TOKEN,
    READ_TOKEN,
    InProcessService,
    bearer,
    service,
)

EXAMPLES = 10
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"
# The committed document, loaded at import (schemathesis' lazy fixture loader does not run under
# this pytest); the first test checks that the running service serves exactly this document.
schema = schemathesis.openapi.from_path(DOCUMENT)


def test_the_service_serves_the_committed_document(service: InProcessService) -> None:  # noqa: F811
    served = httpx.get(f"{service.base_url}/api/v1/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == json.loads(DOCUMENT.read_text()), "run: python tools/export_openapi.py"


def _scope_needed(case: Any) -> str | None:
    if case.method.upper() != "POST":
        return None
    if case.path.startswith("/api/v1/actions/"):
        return "operate"
    return "approve" if case.path.startswith("/api/v1/versions/") else None


_SCOPE_OF = {READ_TOKEN: "read", OPERATE_TOKEN: "operate", APPROVE_TOKEN: "approve"}


def _header(response: Any, name: str) -> str:
    """One response header (schemathesis keeps them lower-cased, as lists)."""
    return ", ".join(response.headers.get(name.lower(), []))


def _check_auth(case: Any, response: Any, token: str) -> None:
    """The status says what the token that was actually sent allows.

    schemathesis also sends some cases without the header or with a mangled one, on purpose.
    """
    assert response.status_code < 500, response.text
    sent = bearer_token(response.request.headers.get("Authorization"))
    if sent != token:
        assert response.status_code == 401, response.text
        assert _header(response, "WWW-Authenticate").startswith("Bearer")
    elif _scope_needed(case) not in (None, _SCOPE_OF[token]):
        assert response.status_code == 403, response.text
        assert "insufficient_scope" in _header(response, "WWW-Authenticate")
    else:
        assert response.status_code not in (401, 403), response.text


@schema.parametrize()
@FUZZ_SETTINGS
def test_with_an_operate_token_every_answer_conforms(case: Any, service: InProcessService) -> None:  # noqa: F811
    response = case.call_and_validate(base_url=service.base_url, headers=bearer(OPERATE_TOKEN))
    _check_auth(case, response, OPERATE_TOKEN)


@schema.parametrize()
@FUZZ_SETTINGS
def test_an_approve_token_reads_and_reviews_but_never_operates(case: Any, service: InProcessService) -> None:  # noqa: F811
    response = case.call_and_validate(base_url=service.base_url, headers=bearer(APPROVE_TOKEN))
    _check_auth(case, response, APPROVE_TOKEN)


@schema.parametrize()
@FUZZ_SETTINGS
def test_a_read_token_reads_but_never_acts(case: Any, service: InProcessService) -> None:  # noqa: F811
    response = case.call_and_validate(base_url=service.base_url, headers=bearer(READ_TOKEN))
    _check_auth(case, response, READ_TOKEN)


@schema.parametrize()
@FUZZ_SETTINGS
def test_without_a_token_every_route_is_401(case: Any, service: InProcessService) -> None:  # noqa: F811
    response = case.call(base_url=service.base_url)
    assert response.status_code == 401, response.text
    assert _header(response, "WWW-Authenticate").startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthorized"
    case.validate_response(response, transport_kwargs={"base_url": service.base_url})
