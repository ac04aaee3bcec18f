"""API tokens: where they come from, what they grant, and that every route checks them first."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from tradepulse.errors import ConfigError
from tradepulse.adapters.credentials import Secret
from tradepulse.obs.redaction import redact_text
from tradepulse.service.api import create_app
from tradepulse.service.auth import ApiAuth, bearer_token
from tradepulse.service.config import load_config
from tradepulse.service.host import ServiceHost

READ = "read-token-unit-0123456789abcdef"
OPERATE = "operate-token-unit-0123456789abcdef"
OTHER = "rotated-token-unit-0123456789abcdef"
APPROVE = "approve-token-unit-0123456789abcdef"


def environ(**values: str) -> dict[str, str]:
    return {f"TRADEPULSE_API_{name.upper()}": value for name, value in values.items()}


# -- ApiAuth -----------------------------------------------------------------------------------


def test_tokens_from_the_environment_grant_their_scope_and_operate_also_reads() -> None:
    auth = ApiAuth.from_environ(environ(read_token=READ, operate_token=OPERATE))
    assert auth.scope_of(READ) == "read"
    assert auth.scope_of(OPERATE) == "operate"
    assert auth.scope_of(OTHER) is None and auth.scope_of("") is None and auth.scope_of(None) is None
    assert auth.scope_of(READ + "x") is None and auth.scope_of(READ[:-1]) is None


def test_one_scope_alone_is_enough() -> None:
    assert ApiAuth.from_environ(environ(operate_token=OPERATE)).scope_of(OPERATE) == "operate"
    only_read = ApiAuth.from_environ(environ(read_token=READ))
    assert only_read.scope_of(READ) == "read" and only_read.scope_of(OPERATE) is None


def test_no_token_at_all_refuses_to_start_with_one_clear_sentence() -> None:
    with pytest.raises(ConfigError) as refused:
        ApiAuth.from_environ({})
    message = str(refused.value)
    assert "TRADEPULSE_API_READ_TOKEN" in message and "TRADEPULSE_API_OPERATE_TOKEN" in message
    assert "_FILE" in message and "without authentication" in message
    with pytest.raises(ConfigError):
        ApiAuth.from_environ(environ(read_token="  ", operate_token=""))


def test_tokens_from_files(tmp_path: Path) -> None:
    (tmp_path / "read").write_text(READ + "\n")
    (tmp_path / "operate").write_text(f"  {OPERATE}  ")
    auth = ApiAuth.from_environ(environ(read_token_file=str(tmp_path / "read"),
                                        operate_token_file=str(tmp_path / "operate")))
    assert auth.scope_of(READ) == "read" and auth.scope_of(OPERATE) == "operate"


def test_a_variable_and_its_file_twin_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "read").write_text(READ)
    with pytest.raises(ConfigError, match="TRADEPULSE_API_READ_TOKEN and TRADEPULSE_API_READ_TOKEN_FILE") as refused:
        ApiAuth.from_environ(environ(read_token=OTHER, read_token_file=str(tmp_path / "read")))
    assert OTHER not in str(refused.value) and READ not in str(refused.value)
    with pytest.raises(ConfigError, match="cannot read"):
        ApiAuth.from_environ(environ(operate_token_file=str(tmp_path / "missing")))


def test_several_tokens_per_variable_allow_rotation() -> None:
    auth = ApiAuth.from_environ(environ(read_token=f"{READ}, {OTHER}", operate_token=OPERATE))
    assert auth.scope_of(READ) == auth.scope_of(OTHER) == "read"


@pytest.mark.parametrize("token", ["short-token", "has a space in it 0123", "quote\"d-token-0123456789",
                                   "ünïcode-token-0123456789", "comma,inside-0123456789"])
def test_weak_or_unsendable_tokens_are_refused_without_quoting_them(token: str) -> None:
    with pytest.raises(ConfigError) as refused:
        ApiAuth(read_tokens=[token])
    assert token not in str(refused.value)
    assert "secrets.token_urlsafe" in str(refused.value)


def test_the_same_token_in_both_scopes_operates() -> None:
    assert ApiAuth(read_tokens=[READ], operate_tokens=[READ]).scope_of(READ) == "operate"


def test_tokens_never_show_and_are_masked_in_logs() -> None:
    auth = ApiAuth(read_tokens=[Secret(READ)], operate_tokens=[OPERATE])
    assert READ not in repr(auth) and OPERATE not in repr(auth) and READ not in str(auth)
    assert repr(auth) == "ApiAuth(read_tokens=1, operate_tokens=1, approve_tokens=0)"
    assert redact_text(f"client sent {OPERATE} and {READ}") == "client sent *** and ***"
    assert auth.configured and not ApiAuth().configured
    assert ApiAuth().scope_of(READ) is None


def test_bearer_header_parsing() -> None:
    assert bearer_token(f"Bearer {READ}") == READ
    assert bearer_token(f"bearer {READ}") == READ and bearer_token(f"BEARER   {READ} ") == READ
    for header in (None, "", "Bearer", "Bearer ", f"Basic {READ}", f"Token {READ}", f"Bearer {READ} extra", READ):
        assert bearer_token(header) is None, header


# -- the app: auth before anything else --------------------------------------------------------


CONFIG = """\
[service]
state_dir = "state"
[venue]
kind = "paper"
[[strategies]]
id = "btc-sma"
strategy = "sma_cross"
symbol = "BTC/USDT"
params = { fast = 3, slow = 8 }
feed = "recording:binance:BTC/USDT"
bar = "10s"
"""


@pytest.fixture
def app(tmp_path: Path) -> Any:
    (tmp_path / "service.toml").write_text(CONFIG)
    # A real host, not started: auth answers before any route would touch it.
    host = ServiceHost(load_config(tmp_path / "service.toml"))
    return create_app(host, ApiAuth(read_tokens=[READ], operate_tokens=[OPERATE], approve_tokens=[f"bob:{APPROVE}"]))


def call(app: Any, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await client.request(method, path, headers=headers, **kwargs)

    return asyncio.run(go())


def operations(app: Any) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item]


def test_every_documented_operation_requires_a_bearer_token(app: Any) -> None:
    ops = operations(app)
    assert len(ops) == 23 and ("GET", "/metrics") in ops and ("POST", "/api/v1/actions/kill") in ops
    assert ("POST", "/api/v1/versions/{version_id}/approve") in ops
    for method, path in ops:
        body = {"json": {"reason": "test"}} if method == "POST" else {}
        missing = call(app, method, path, **body)
        assert missing.status_code == 401, (method, path)
        assert missing.headers["WWW-Authenticate"] == 'Bearer realm="tradepulse"'
        assert missing.json()["error"]["code"] == "unauthorized"
        assert missing.headers["X-Correlation-ID"]
        unknown = call(app, method, path, OTHER, **body)
        assert unknown.status_code == 401 and 'error="invalid_token"' in unknown.headers["WWW-Authenticate"]
        assert app.openapi()["paths"][path][method.lower()]["security"] == [{"bearer": []}]


def test_a_read_token_gets_403_on_every_action_before_the_body_is_read(app: Any) -> None:
    posts = [path for method, path in operations(app) if method == "POST"]
    actions = [path for path in posts if path.startswith("/api/v1/actions/")]
    assert sorted(actions) == ["/api/v1/actions/cancel-all", "/api/v1/actions/flatten", "/api/v1/actions/kill",
                               "/api/v1/actions/resume", "/api/v1/actions/rollback"]
    reviews = [path.replace("{version_id}", "sma_cross-c1e76b3a452d") for path in posts if path not in actions]
    assert sorted(reviews) == ["/api/v1/versions/sma_cross-c1e76b3a452d/approve", "/api/v1/versions/sma_cross-c1e76b3a452d/reject"]
    # Operating and approving are separate duties: neither token does the other's work, a read token neither.
    for paths, refused, allowed, needed in ((actions, (READ, APPROVE), OPERATE, "operate"), (reviews, (READ, OPERATE), APPROVE, "approve")):
        for path in paths:
            for token in refused:
                for kwargs in ({"json": {"reason": "test"}}, {"content": b"\xff not json", "headers": {"Content-Type": "application/json"}}):
                    response = call(app, "POST", path, token, **kwargs)
                    assert response.status_code == 403, path
                    assert response.json()["error"]["code"] == "forbidden" and needed in response.json()["error"]["message"]
                    assert f'scope="{needed}"' in response.headers["WWW-Authenticate"]
            # With the right token the request gets past auth: an empty body is then a validation error.
            assert call(app, "POST", path, allowed, json={}).status_code == 422


def test_an_approve_token_reads_and_says_whose_it_is(app: Any) -> None:
    assert call(app, "GET", "/api/v1/health", APPROVE).status_code == 200
    assert call(app, "GET", "/api/v1/token", APPROVE).json() == {"scope": "approve", "name": "bob"}
    assert call(app, "GET", "/api/v1/token", OPERATE).json() == {"scope": "operate", "name": None}
    # Without a store there are no versions, and an unknown one is a 404 with one line.
    assert call(app, "GET", "/api/v1/versions", APPROVE).json() == []
    missing = call(app, "GET", "/api/v1/versions/sma_cross-c1e76b3a452d", READ)
    assert missing.status_code == 404 and "sma_cross-c1e76b3a452d" in missing.json()["error"]["message"]
    assert call(app, "GET", "/api/v1/versions/not a version", READ).status_code == 422


def test_approve_tokens_need_a_name_and_cannot_also_operate() -> None:
    with pytest.raises(ConfigError, match="has no name: write it name:token"):
        ApiAuth(approve_tokens=[APPROVE])
    with pytest.raises(ConfigError, match="separate duties"):
        ApiAuth(operate_tokens=[OPERATE], approve_tokens=[f"carol:{OPERATE}"])
    with pytest.raises(ConfigError, match="name"):
        ApiAuth(approve_tokens=[f"bad name:{APPROVE}"])
    auth = ApiAuth.from_environ({"TRADEPULSE_API_READ_TOKEN": READ, "TRADEPULSE_API_APPROVE_TOKEN": f"ann:{APPROVE}, bob:{OTHER}"})
    assert auth.grant_of(APPROVE).name == "ann" and auth.grant_of(OTHER).name == "bob"
    assert auth.grant_of(APPROVE).actor == "operator:ann@api"
    named = ApiAuth(operate_tokens=[f"olga:{OPERATE}"])
    assert named.grant_of(OPERATE).actor == "operator:olga@api" and named.grant_of(f"olga:{OPERATE}") is None
    with pytest.raises(ConfigError) as error:
        ApiAuth.from_environ({"TRADEPULSE_API_READ_TOKEN": READ, "TRADEPULSE_API_APPROVE_TOKEN": "ann:short"})
    assert "short" not in str(error.value).replace("too short", "")


def test_unknown_paths_do_not_reveal_themselves_without_a_token(app: Any) -> None:
    assert call(app, "GET", "/api/v2/anything").status_code == 401
    assert call(app, "GET", "/api/v2/anything", READ).status_code == 404
    assert call(app, "GET", "/docs").status_code == 401 and call(app, "GET", "/docs", READ).status_code == 404
    assert call(app, "GET", "/api/v1/openapi.json").status_code == 200


def test_a_read_token_reads(app: Any) -> None:
    response = call(app, "GET", "/api/v1/health", READ)
    assert response.status_code == 200 and set(response.json()) >= {"status", "uptime_seconds", "trading_state"}
    assert call(app, "GET", "/api/v1/health", OPERATE).status_code == 200


def test_tokens_do_not_reach_the_log(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        call(app, "GET", "/api/v1/health", READ)
        call(app, "GET", "/api/v1/health", OTHER)
        call(app, "POST", "/api/v1/actions/kill", READ, json={"reason": "x"})
        call(app, "POST", "/api/v1/actions/kill", OPERATE, json={"reason": ""})
    assert caplog.records
    logged = json.dumps([{**vars(record), "msg": record.getMessage()} for record in caplog.records], default=str)
    for token in (READ, OPERATE, OTHER, APPROVE):
        assert token not in logged
