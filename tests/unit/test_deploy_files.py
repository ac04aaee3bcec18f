"""deploy/ is valid and agrees with the code: Prometheus files, metric names, the container config,
the compose stack, the image, the systemd unit, and the commands the deployment docs tell operators to run.

promtool (Debian's ``prometheus`` package, installed by ``make test``) is required: without it
these tests fail, they do not skip. The compose file is checked with a validating Compose
Specification parser (``compose-spec``), since neither a Docker engine nor the Compose CLI runs here.
"""

from __future__ import annotations

import copy
import http.server
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import threading
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradepulse.obs.metrics import TRADING_STATES, TradingMetrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "tradepulse.json"
DOCS = (ROOT / "docs" / "deployment.md", ROOT / "docs" / "operations.md")

# Labels Prometheus adds to every scraped series (the target's), and the histogram bucket label.
TARGET_LABELS = {"instance", "job", "service", "stack"}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: `make test` installs it (Debian's `prometheus` package: "
                    "apt-get install --no-install-recommends prometheus)")
    return path


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _compose() -> dict:
    return _yaml(DEPLOY / "compose.yaml")


def _rules() -> list[dict]:
    return [rule for group in _yaml(PROMETHEUS / "rules.yml")["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    exprs = []
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    for panel in panels:
        exprs += [target["expr"] for target in panel.get("targets", [])]
    return exprs


def _as_promql(grafana_expr: str) -> str:
    """A dashboard query with Grafana's variables replaced, so that promtool can parse it."""
    return (grafana_expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
            .replace("$instance", ".*"))


# -- promtool --------------------------------------------------------------------------------------


def test_promtool_check_config(tmp_path):
    promtool = _promtool()
    # The bearer token file is a compose secret that exists only in the container; point it at a
    # temporary file, so that promtool checks everything else exactly as written.
    text = (PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8")
    secret = "/run/secrets/api_read_token"
    assert secret in text
    token = tmp_path / "api_read_token"
    token.write_text("a-read-token-for-promtool\n", encoding="utf-8")
    (tmp_path / "prometheus.yml").write_text(text.replace(secret, str(token)), encoding="utf-8")
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path / "rules.yml")
    output = _run([promtool, "check", "config", "prometheus.yml"], cwd=tmp_path)
    assert "SUCCESS" in output


def test_promtool_check_rules():
    output = _run([_promtool(), "check", "rules", "rules.yml"], cwd=PROMETHEUS)
    assert f"SUCCESS: {len(_rules())} rules found" in output


def test_promtool_test_rules():
    output = _run([_promtool(), "test", "rules", "rules_test.yml"], cwd=PROMETHEUS)
    assert "SUCCESS" in output


def test_every_alert_has_a_firing_unit_test():
    tests = _yaml(PROMETHEUS / "rules_test.yml")["tests"]
    fired = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    alerts = {rule["alert"] for rule in _rules()}
    assert alerts - fired == set(), "alerts without a unit test in which they fire"


def test_dashboard_queries_are_valid_promql(tmp_path):
    # promtool has no query parser of its own in every version; recording rules are parsed fully.
    rules = [{"record": f"tradepulse_dashboard:query_{number}", "expr": _as_promql(expr)}
             for number, expr in enumerate(_dashboard_exprs())]
    assert rules
    (tmp_path / "dashboard_rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}),
                                                  encoding="utf-8")
    _run([_promtool(), "check", "rules", "dashboard_rules.yml"], cwd=tmp_path)


# -- metric names --------------------------------------------------------------------------------


def _exported() -> tuple[set[str], dict[str, set[str]]]:
    """Sample names TradingMetrics exports (from render(), by family type) and each one's label names."""
    from prometheus_client.parser import text_string_to_metric_families

    names: set[str] = set()
    for line in TradingMetrics().render().decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if kind == "counter":
                names |= {name, re.sub(r"_total$", "", name) + "_created"}
            elif kind == "histogram":
                names |= {name + suffix for suffix in ("_bucket", "_count", "_sum", "_created")}
            else:
                names.add(name)
    # Labelled series exist once used: exercise every labelled metric to read its label names.
    metrics = TradingMetrics()
    metrics.order_submitted("BTC/USDT")
    metrics.fill("BTC/USDT", 1)
    metrics.rejected("BTC/USDT")
    metrics.denied("max_order_notional")
    metrics.reconnected("market_data")
    metrics.reconciled(True)
    metrics.set_position("BTC/USDT", 1)
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return names, labels


def _promql_sources() -> list[tuple[str, str]]:
    return ([(f"rules.yml {rule['alert']}", rule["expr"]) for rule in _rules()]
            + [(f"dashboard query {number}", expr) for number, expr in enumerate(_dashboard_exprs())])


def test_rules_and_dashboard_use_only_exported_metric_names():
    names, _ = _exported()
    assert "tradepulse_trading_state" in names and "tradepulse_order_to_ack_seconds_bucket" in names
    used = {}
    for where, expr in _promql_sources():
        for name in re.findall(r"\btradepulse_[a-zA-Z0-9_]+\b", expr):
            used.setdefault(name, where)
    assert used, "no tradepulse_ metric found in the rules or the dashboard"
    unknown = {name: where for name, where in used.items() if name not in names}
    assert unknown == {}, f"metrics that TradingMetrics does not export (renamed?): {unknown}"
    # Every metric of the code is on the dashboard.
    families = {re.sub(r"_(bucket|count|sum|created)$", "", name) for name in names if not name.endswith("_created")}
    on_dashboard = {re.sub(r"_(bucket|count|sum)$", "", name) for expr in _dashboard_exprs()
                    for name in re.findall(r"\btradepulse_[a-zA-Z0-9_]+\b", expr)}
    assert families - on_dashboard == set(), "metrics missing from the Grafana dashboard"


def test_rules_and_dashboard_use_only_exported_labels_and_states():
    _, labels = _exported()
    for where, expr in _promql_sources():
        in_expr = set()
        for name, matchers in re.findall(r"\b(tradepulse_[a-zA-Z0-9_]+)\{([^}]*)\}", expr):
            known = labels.get(name, set()) | TARGET_LABELS
            in_expr |= known
            for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', matchers):
                assert label in known, f"{where}: {name} has no label {label!r}"
                if name == "tradepulse_trading_state" and op == "=":
                    assert value in TRADING_STATES, f"{where}: unknown trading state {value!r}"
        for name in re.findall(r"\b(tradepulse_[a-zA-Z0-9_]+)\b", expr):
            in_expr |= labels.get(name, set())
        for grouping in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            for label in filter(None, (part.strip() for part in grouping.split(","))):
                assert label in in_expr | TARGET_LABELS | {"le"}, f"{where}: groups by unknown label {label!r}"


def test_every_runbook_link_has_its_section_in_the_operations_guide():
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}
    for rule in _rules():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith("docs/operations.md#"), url
        assert url.split("#", 1)[1] in anchors, f"{rule['alert']}: docs/operations.md has no section {url}"
    for link in re.findall(r"\]\(#([^)]+)\)", text):
        assert link in anchors, f"docs/operations.md links to a missing section #{link}"


# -- the service's config --------------------------------------------------------------------------


def test_container_config_validates_with_the_service_loader():
    from tradepulse.service.config import load_config

    config = load_config(DEPLOY / "live.toml", environ={})
    assert config.venue.kind == "ccxt" and config.venue.exchange == "binance"
    assert (config.api.host, config.api.allow_remote) == ("0.0.0.0", True)
    assert str(config.state_dir) == "/var/lib/tradepulse"
    assert len(config.strategies) >= 1
    # The alert thresholds in rules.yml mirror these limits (docs/deployment.md says so).
    assert config.risk.stale_after_seconds == 30
    assert float(config.risk.max_drawdown_fraction) == 0.05
    exprs = {rule["alert"]: rule["expr"] for rule in _rules()}
    assert exprs["TradePulseFeedStale"].endswith(">= 30")
    assert float(exprs["TradePulseDrawdownCritical"].split(">=")[1]) < float(config.risk.max_drawdown_fraction)


# -- the compose stack -----------------------------------------------------------------------------


def test_compose_services_secrets_and_ports():
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"venue", "tradepulse", "prometheus", "alertmanager", "grafana"}
    declared = compose["secrets"]
    for name, secret in declared.items():
        assert secret["file"] == f"./secrets/{name}", name
    ignore = (DEPLOY / "secrets" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignore and "!README.md" in ignore, "secret files must be ignored by git"

    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond the host's loopback"
        mounted = {}
        for entry in service.get("secrets", []):
            source, target = (entry, entry) if isinstance(entry, str) else (entry["source"], entry.get("target", entry["source"]))
            assert source in declared, f"{name} uses undeclared secret {source}"
            mounted[f"/run/secrets/{target}"] = source
        for variable, value in (service.get("environment") or {}).items():
            if variable.endswith("_FILE"):
                assert value in mounted, f"{name}: {variable}={value} is not a mounted secret"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"

    app = services["tradepulse"]
    env = app["environment"]
    for variable in ("TRADEPULSE_API_READ_TOKEN_FILE", "TRADEPULSE_API_OPERATE_TOKEN_FILE",
                     "TRADEPULSE_BINANCE_API_KEY_FILE", "TRADEPULSE_BINANCE_API_SECRET_FILE",
                     "TRADEPULSE_ALERT_WEBHOOK_URL_FILE"):
        assert variable in env, variable
    assert not any(variable in env for variable in ("TRADEPULSE_API_READ_TOKEN", "TRADEPULSE_API_OPERATE_TOKEN")), \
        "tokens come from secret files, not the environment"
    assert "./live.toml:/etc/tradepulse/live.toml:ro" in app["volumes"]
    assert app["depends_on"]["venue"]["condition"] == "service_healthy"

    # The service trades against the venue service through ccxt, on the port the venue listens on.
    venue_command = " ".join(services["venue"]["command"])
    assert "tradepulse venue serve" in venue_command and "--host 0.0.0.0" in venue_command
    port = re.search(r"--port (\d+)", venue_command).group(1)
    assert env["TRADEPULSE_BINANCE_URL"] == f"http://venue:{port}"

    # The API port: published from the container port live.toml listens on, scraped there by Prometheus.
    api_port = tomllib.loads((DEPLOY / "live.toml").read_text(encoding="utf-8"))["api"]["port"]
    assert f"127.0.0.1:{api_port}:{api_port}" in app["ports"]
    scrape = next(job for job in _yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"] if job["job_name"] == "tradepulse")
    assert scrape["metrics_path"] == "/api/v1/metrics"
    assert scrape["static_configs"][0]["targets"] == [f"tradepulse:{api_port}"]
    token_file = scrape["authorization"]["credentials_file"]
    prometheus_secrets = {f"/run/secrets/{s.get('target', s['source'])}" if isinstance(s, dict) else f"/run/secrets/{s}"
                          for s in services["prometheus"]["secrets"]}
    assert token_file in prometheus_secrets

    alertmanager = _yaml(DEPLOY / "alertmanager" / "alertmanager.yml")
    receivers = {receiver["name"]: receiver for receiver in alertmanager["receivers"]}
    assert alertmanager["route"]["receiver"] in receivers
    for route in alertmanager["route"].get("routes", []):
        assert route["receiver"] in receivers
    url_file = receivers["operators"]["webhook_configs"][0]["url_file"]
    assert url_file == "/run/secrets/" + services["alertmanager"]["secrets"][0]


def test_grafana_provisioning_matches_the_dashboard():
    datasource = _yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    uids = {target["datasource"]["uid"] for panel in dashboard["panels"] for target in panel.get("targets", [])}
    uids |= {panel["datasource"]["uid"] for panel in dashboard["panels"] if "datasource" in panel}
    assert uids == {datasource["uid"]}
    assert datasource["url"] == "http://prometheus:9090"
    provider = _yaml(GRAFANA / "provisioning" / "dashboards" / "tradepulse.yml")["providers"][0]
    grafana = _compose()["services"]["grafana"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def _compose_spec(document: dict) -> Any:
    from compose_spec import PyCompose

    # Through JSON: YAML anchors and merge keys are resolved by the YAML reader, as `docker compose` does.
    return PyCompose.from_json(json.dumps(document))


def test_the_compose_file_is_valid_against_the_compose_specification():
    """A validating Compose Specification parser in place of `docker compose config` (no Compose CLI here).

    It refuses unknown keys, malformed ports and references to undefined secrets, networks or volumes:
    the three broken copies below prove the check can fail.
    """
    compose = _compose()
    parsed = _compose_spec(compose)
    parsed.validate()
    assert parsed.service_names() == list(compose["services"])
    broken_reference = copy.deepcopy(compose)
    broken_reference["services"]["tradepulse"]["secrets"].append("undefined_secret")
    with pytest.raises(ValueError, match="undefined_secret"):
        _compose_spec(broken_reference).validate()
    unknown_key = copy.deepcopy(compose)
    unknown_key["services"]["tradepulse"]["restartt"] = "always"
    with pytest.raises(ValueError, match="restartt"):
        _compose_spec(unknown_key)
    bad_port = copy.deepcopy(compose)
    bad_port["services"]["tradepulse"]["ports"] = ["not-a-port"]
    with pytest.raises(ValueError, match="port"):
        _compose_spec(bad_port)


# -- the image, its helpers, the systemd unit ----------------------------------------------------


def test_dockerfile_builds_from_the_lock_and_runs_the_service_unprivileged():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, flags=re.MULTILINE)
    lock = text.index("pip install -r requirements.lock")
    assert lock < text.index("pip install --no-deps --no-build-isolation .")
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users and not users[-1].startswith(("root", "0")), users
    assert "HEALTHCHECK" in text and "tradepulse-healthcheck" in text
    assert 'CMD ["tradepulse", "serve", "--config", "/etc/tradepulse/live.toml"]' in text
    # Everything the Dockerfile copies from the context passes the ignore file.
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    for source in re.findall(r"^COPY (.+) \S+$", text, flags=re.MULTILINE):
        for path in source.split():
            assert f"!{path.rstrip('/')}" in ignore, f"{path} is copied but excluded by Dockerfile.dockerignore"
            assert (ROOT / path).exists(), path


def test_healthcheck_reads_the_token_file_and_needs_a_200(tmp_path):
    token = "health-check-token-0123456789"
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server name
            seen.append((self.path, self.headers.get("Authorization")))
            ok = self.headers.get("Authorization") == f"Bearer {token}"
            body = json.dumps({"status": "degraded", "uptime_seconds": 1.0, "trading_state": "HALTED"} if ok
                              else {"error": {"code": "unauthorized", "message": "no"}}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/health"
        token_file = tmp_path / "api_read_tokens"
        script = [sys.executable, str(DEPLOY / "healthcheck.py")]
        base = {"PATH": "/usr/bin:/bin", "TRADEPULSE_HEALTHCHECK_URL": url, "TRADEPULSE_API_READ_TOKEN_FILE": str(token_file)}
        token_file.write_text(f"{token},another-token-0123456789\n", encoding="utf-8")
        good = subprocess.run(script, env=base, capture_output=True, text=True, timeout=30)
        assert good.returncode == 0, good.stderr
        assert "status=degraded" in good.stdout and token not in good.stdout + good.stderr
        token_file.write_text("a-wrong-token-0123456789\n", encoding="utf-8")
        bad = subprocess.run(script, env=base, capture_output=True, text=True, timeout=30)
        assert bad.returncode == 1 and "401" in bad.stderr
    finally:
        server.shutdown()
        server.server_close()
    assert seen[0] == ("/api/v1/health", f"Bearer {token}")


def test_backup_copies_every_journal_with_a_manifest(tmp_path):
    from tradepulse.store import Journal

    state = tmp_path / "state"
    with Journal(state / "service.sqlite") as journal:
        journal.append("service.started", {"pid": 1})
    for strategy in ("btc-sma", "eth-mr"):
        with Journal(state / "journals" / f"{strategy}.sqlite") as journal:
            for number in range(3):
                journal.append("market.bar", {"n": number})
    archive = tmp_path / "backup.tar.gz"
    result = subprocess.run([sys.executable, str(DEPLOY / "backup.py"), "--state-dir", str(state), str(archive)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        tar.extractall(tmp_path / "restored", filter="data")
    assert names == {"MANIFEST.json", "service.sqlite", "journals/btc-sma.sqlite", "journals/eth-mr.sqlite"}
    assert manifest["files"]["journals/btc-sma.sqlite"]["events"] == 3
    assert all(entry["integrity"] == "ok" for entry in manifest["files"].values())
    with Journal(tmp_path / "restored" / "journals" / "eth-mr.sqlite", read_only=True) as restored:
        assert [event.payload["n"] for event in restored.events(kinds=["market.bar"])] == [0, 1, 2]


def test_systemd_unit_runs_the_service_with_its_credentials():
    text = (DEPLOY / "systemd" / "tradepulse.service").read_text(encoding="utf-8")
    assert re.search(r"^ExecStart=\S+/tradepulse serve --config /etc/tradepulse/live\.toml$", text, flags=re.MULTILINE)
    assert re.search(r"^ExecStartPre=\S+/tradepulse serve --config \S+ --check$", text, flags=re.MULTILINE)
    assert re.search(r"^User=tradepulse$", text, flags=re.MULTILINE)
    credentials = set(re.findall(r"^LoadCredential=([^:]+):", text, flags=re.MULTILINE))
    used = set(re.findall(r"%d/(\w+)", text))
    assert used and used == credentials
    assert "RestartPreventExitStatus=2" in text


# -- the docs' commands --------------------------------------------------------------------------


_COMMAND = re.compile(r"(?:^|[\s;&|(])tradepulse ((?:serve|live|venue)\b[^|;&>#)]*)")


def _doc_commands() -> list[tuple[str, str]]:
    """`tradepulse serve|live|venue …` commands the docs show: every one in a shell code block, and
    inline ones written out with options (a bare `tradepulse serve` in prose names the command)."""
    found = []
    for path in DOCS:
        shell_lines, prose, fence = [], [], None
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("```"):
                fence = None if fence is not None else (stripped[3:].strip() or "sh")
                continue
            if fence is None:
                prose.append(stripped)
            elif fence in ("bash", "sh"):
                shell_lines.append(line)
        for line in "\n".join(shell_lines).replace("\\\n", " ").splitlines():
            match = _COMMAND.search(line)
            if match:
                found.append((path.name, "tradepulse " + match.group(1).strip()))
        for code in re.findall(r"`([^`]+)`", " ".join(prose)):
            match = _COMMAND.search(code)
            if match and " --" in match.group(1):
                found.append((path.name, "tradepulse " + match.group(1).strip()))
    return found


def test_docs_commands_parse_with_the_cli():
    from tradepulse.cli import build_parser
    from tradepulse.model.orders import OrderStatus

    commands = _doc_commands()
    assert len(commands) > 20
    seen = set()
    for doc, command in commands:
        words = shlex.split(command)
        if words[1] == "live" and len(words) == 2 or "…" in command or "<" in command:
            continue
        try:
            args = build_parser().parse_args(words[1:])
        except SystemExit:
            pytest.fail(f"{doc}: `{command}` is not a valid tradepulse command")
        seen.add(" ".join(words[1:3]))
        assert callable(args.handler)
        for status in getattr(args, "status", None) or []:
            assert status in OrderStatus.__members__, f"{doc}: `{command}`: the API has no order status {status!r}"
    for needed in ("serve --config", "live status", "live kill", "live resume", "live positions", "live orders",
                   "live start", "live stop"):
        assert needed in seen, f"the docs never show `tradepulse {needed}`"
