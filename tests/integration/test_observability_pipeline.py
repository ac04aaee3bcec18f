"""The observability pipeline for real: service → Prometheus → Alertmanager → webhook, and the log schema.

The local venue runs as a process and the service (``tradepulse serve``) trades through ccxt on it.
A real Prometheus (Debian's package) scrapes the service's ``/api/v1/metrics`` with a read token
from a credentials file and evaluates the repository's ``deploy/prometheus/rules.yml``, unchanged;
a real Alertmanager routes what fires with the repository's ``deploy/alertmanager/alertmanager.yml``
to an HTTP receiver this test runs. Both configs are derived from the repository's files in code:
only addresses, ports, the credentials file, the webhook URL and the intervals change (a test
checks that nothing else does), so the rules, jobs, routes, grouping and inhibitions under test are
the ones deployed.

Then every REST request to the venue fails: orders get unknown outcomes, the lookups fail too,
and the venue-error breaker halts trading. ``TradePulseHalted`` must reach the receiver through
Alertmanager with its labels (alert name, severity from rules.yml, the target's job, instance and
service labels, Prometheus's external ``stack`` label, the ``state`` series label) on the critical
route, and the resolution must follow once an operator resumes. Every line the service logged in
the run validates against the published schema ``deploy/logging/log-line.schema.json``.

Prometheus and Alertmanager are required: without them these tests fail, they do not skip
(``make test`` installs Debian's ``prometheus`` and ``prometheus-alertmanager``).
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import filecmp
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from polling import eventually

from tradepulse.model.kinds import RiskKind
from tradepulse.service.processes import Drill
from tradepulse.store import Journal

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTMANAGER_FILE = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
SCHEMA_FILE = ROOT / "deploy" / "logging" / "log-line.schema.json"

STRATEGY_ID = "obs-btc"
HOOK_SECRET = secrets.token_hex(8)  # the webhook URL is a secret: its path carries a token
INTERVAL = "1s"                     # scrape, rule evaluation and Alertmanager grouping, for test speed

SERVICE_CONFIG = f"""
[service]
state_dir = "state"
cancel_orders_on_stop = true
watchdog_seconds = 30
[api]
port = 0
[venue]
kind = "ccxt"
exchange = "binance"
[governance]
require_versions = false  # a built-in strategy on an exchange-kind venue (the local one)
[[strategies]]
id = "{STRATEGY_ID}"
strategy = "sma_cross"
symbol = "BTC/USDT"
params = {{ fast = 2, slow = 3 }}
bar = "1s"
capital = 1500
[risk]
max_daily_loss_fraction = 0.5
max_drawdown_fraction = 0.5
max_orders_per_window = 1000
max_rejects = 100000
# Three failed venue calls in 30 s halt trading: the outage below trips it, nothing before it does.
max_venue_errors = 3
venue_error_window_seconds = 30
[alerts]
format = "json"
"""

# The readiness line `tradepulse serve` prints on stdout (which shares service.log with stderr's
# JSON log lines): the one line of the file that is not a log record.
READY_LINE = re.compile(r"^TradePulse service \((cold|warm) start\) listening at http://127\.0\.0\.1:\d+/api/v1 \(pid \d+\)$")


# -- finding the programs --------------------------------------------------------------------------


def _program(*names: str, package: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.fail(f"{' / '.join(names)} is not installed: `make test` installs it (Debian's `{package}` package: "
                f"apt-get install --no-install-recommends {package})")


def prometheus_binary() -> str:
    return _program("prometheus", package="prometheus")


def alertmanager_binary() -> str:
    # Debian names Alertmanager's binary after its package; upstream's archives call it alertmanager.
    return _program("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager")


# -- the configs, derived from the repository's files -----------------------------------------------


def derive_prometheus_config(original: dict, *, service: str, alertmanager: str, prometheus: str, token_file: Path,
                             interval: str = INTERVAL) -> dict:
    """deploy/prometheus/prometheus.yml for loopback: only targets, the token file and intervals change."""
    config = copy.deepcopy(original)
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    for manager in config["alerting"]["alertmanagers"]:
        for static in manager["static_configs"]:
            static["targets"] = [alertmanager]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    tradepulse = jobs["tradepulse"]
    tradepulse["scrape_interval"] = interval
    tradepulse["scrape_timeout"] = interval  # may not exceed the interval
    tradepulse["authorization"]["credentials_file"] = str(token_file)
    for static in tradepulse["static_configs"]:
        static["targets"] = [service]
    for static in jobs["prometheus"]["static_configs"]:
        static["targets"] = [prometheus]
    return config


def derive_alertmanager_config(original: dict, *, webhook_url: str, url_file: Path | None,
                               interval: str = INTERVAL) -> dict:
    """deploy/alertmanager/alertmanager.yml with the webhook at ``webhook_url`` and short grouping times.

    With ``url_file`` the URL goes into that file, which ``url_file`` names, as in the repository.
    Without it (Alertmanager 0.25, Debian 12's, does not know ``url_file``) the URL is written inline.
    """
    config = copy.deepcopy(original)
    config["route"]["group_wait"] = interval
    config["route"]["group_interval"] = interval
    for route in config["route"].get("routes", []):
        if "group_interval" in route:
            route["group_interval"] = interval
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            if url_file is None:
                del hook["url_file"]
                hook["url"] = webhook_url
            else:
                url_file.write_text(webhook_url + "\n", encoding="utf-8")
                hook["url_file"] = str(url_file)
    return config


def _leaves(value: Any, path: tuple = ()) -> dict[tuple, Any]:
    if isinstance(value, dict):
        return {leaf: item for key, child in value.items() for leaf, item in _leaves(child, (*path, key)).items()}
    if isinstance(value, list):
        return {leaf: item for index, child in enumerate(value) for leaf, item in _leaves(child, (*path, index)).items()}
    return {path: value}


def changed_paths(before: dict, after: dict) -> set[str]:
    """The leaves that differ between two configs, as dotted paths (list items by index)."""
    old, new = _leaves(before), _leaves(after)
    return {".".join(map(str, path)) for path in old.keys() | new.keys() if old.get(path, ...) != new.get(path, ...)}


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _alertmanager_reads_url_file(workdir: Path) -> bool:
    """Whether this Alertmanager accepts the repository's ``url_file`` (amtool comes in the same package)."""
    amtool = shutil.which("amtool")
    if amtool is None:
        return False
    probe_dir = workdir / "probe"
    probe_dir.mkdir(exist_ok=True)
    config = derive_alertmanager_config(_yaml(ALERTMANAGER_FILE), webhook_url="http://127.0.0.1:9/", url_file=probe_dir / "url")
    (probe_dir / "alertmanager.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    checked = subprocess.run([amtool, "check-config", str(probe_dir / "alertmanager.yml")], capture_output=True, text=True,
                             timeout=60)
    return checked.returncode == 0


# -- processes -----------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test process dies (a killed worker leaves nothing behind)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daemon:
    """A Prometheus or Alertmanager on a free loopback port, ready once ``/-/ready`` answers 200."""

    def __init__(self, name: str, command: Callable[[int], list[str]], log: Path) -> None:
        self.name, self.command, self.log = name, command, log
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self, attempts: int = 3) -> Daemon:
        for attempt in range(attempts):
            self.port = free_port()
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(self.command(self.port), stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True,
                                                preexec_fn=_die_with_parent)
            try:
                eventually(self._ready, timeout_seconds=60, interval_seconds=0.1)
                return self
            except _Exited:
                # Another process took the free port between the probe and the bind: try another one.
                if "address already in use" in self.tail().lower() and attempt + 1 < attempts:
                    continue
                raise AssertionError(f"{self.name} exited with code {self.process.returncode} while starting:\n{self.tail()}") from None
            except AssertionError:
                self.stop()
                raise AssertionError(f"{self.name} did not become ready within 60 s:\n{self.tail()}") from None
        raise AssertionError(f"{self.name} could not start")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise _Exited()
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class _Exited(Exception):
    pass


class Receiver:
    """An HTTP server on loopback that records every POST: the webhook Alertmanager notifies."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append({"path": self.path, "body": json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="alert-receiver", daemon=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [entry["body"] for entry in self.received if entry["path"] == path]


# -- the stack -------------------------------------------------------------------------------------


@dataclass
class Stack:
    folder: Path
    drill: Drill
    venue: Any
    service: Any
    prometheus: Daemon
    alertmanager: Daemon
    receiver: Receiver
    configs: dict[str, tuple[dict, dict]]
    url_file_used: bool
    tripped: dict[str, Any] = field(default_factory=dict)

    alertmanager_path = f"/alertmanager/{HOOK_SECRET}"
    service_path = f"/service/{HOOK_SECRET}"

    def query(self, promql: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.prometheus.url}/api/v1/query", params={"query": promql}, timeout=10, trust_env=False)
        answer.raise_for_status()
        document = answer.json()
        assert document["status"] == "success", document
        return document["data"]["result"]

    def prometheus_api(self, path: str) -> Any:
        answer = httpx.get(f"{self.prometheus.url}/api/v1/{path}", timeout=10, trust_env=False)
        answer.raise_for_status()
        return answer.json()["data"]

    def webhook_alerts(self, alertname: str, status: str) -> list[tuple[dict, dict]]:
        """``(notification, alert)`` pairs Alertmanager posted for ``alertname`` with ``status``."""
        return [(body, alert) for body in self.receiver.bodies(self.alertmanager_path) for alert in body["alerts"]
                if alert["labels"].get("alertname") == alertname and alert["status"] == status]

    @property
    def service_address(self) -> str:
        return httpx.URL(self.service.url).netloc.decode()

    def trip(self) -> dict[str, Any]:
        """Fail every REST request until the venue-error breaker halts trading (once; later calls return the first result)."""
        if self.tripped:
            return self.tripped
        with self.service.client() as client:
            assert client.status()["trading_state"] == "ACTIVE"
            self.venue.faults(rest_error_rate=1.0)
            eventually(lambda: client.status()["trading_state"] == "HALTED", timeout_seconds=60, interval_seconds=0.1)
        self.venue.clear_faults()
        with Journal(self.service.state_dir / "journals" / f"{STRATEGY_ID}.sqlite", read_only=True) as journal:
            trips = [event.payload for event in journal.iter_events(kinds=[RiskKind.BREAKER_TRIP])]
        self.tripped = {"trips": trips, "at": time.time()}
        return self.tripped


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_program, alertmanager_program = prometheus_binary(), alertmanager_binary()
    folder = tmp_path_factory.mktemp("observability")
    with contextlib.ExitStack() as cleanup:
        receiver = cleanup.enter_context(Receiver())
        drill = cleanup.enter_context(Drill(folder / "drill", prefix="obs"))
        # The service's own alerts go to the receiver too (another path): they name the breaker.
        drill.env["TRADEPULSE_ALERT_WEBHOOK_URL"] = receiver.base_url + Stack.service_path
        venue = drill.venue(speed=10.0, seed=5, balances={"USDT": "3000", "BTC": "0.02", "ETH": "0"})
        config = drill.folder / "live.toml"
        config.write_text(SERVICE_CONFIG, encoding="utf-8")
        service = drill.service(config)

        # Alertmanager: the repository's routing, the receiver's URL, short grouping times.
        am_dir = folder / "alertmanager"
        am_dir.mkdir()
        url_file_used = _alertmanager_reads_url_file(am_dir)
        am_original = _yaml(ALERTMANAGER_FILE)
        am_config = derive_alertmanager_config(am_original, webhook_url=receiver.base_url + Stack.alertmanager_path,
                                               url_file=am_dir / "alertmanager_webhook_url" if url_file_used else None)
        (am_dir / "alertmanager.yml").write_text(yaml.safe_dump(am_config, sort_keys=False), encoding="utf-8")
        alertmanager = Daemon("Alertmanager", lambda port: [
            alertmanager_program, f"--config.file={am_dir / 'alertmanager.yml'}", f"--storage.path={am_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", f"--web.external-url=http://127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: a lone instance, nothing else bound
        ], am_dir / "alertmanager.log")
        cleanup.callback(alertmanager.stop)
        alertmanager.start()

        # Prometheus: the repository's jobs and rules (rules.yml copied byte for byte beside the config).
        prom_dir = folder / "prometheus"
        prom_dir.mkdir()
        token_file = prom_dir / "api_read_token"
        descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(drill.credentials.read_token + "\n")
        shutil.copyfile(PROMETHEUS_DIR / "rules.yml", prom_dir / "rules.yml")
        prom_original = _yaml(PROMETHEUS_DIR / "prometheus.yml")
        prom_configs: dict[int, dict] = {}

        def prometheus_command(port: int) -> list[str]:
            # The config names Prometheus's own address (its self-scrape job): written for each port tried.
            prom_configs[port] = derive_prometheus_config(
                prom_original, service=httpx.URL(service.url).netloc.decode(), alertmanager=alertmanager.address,
                prometheus=f"127.0.0.1:{port}", token_file=token_file)
            (prom_dir / "prometheus.yml").write_text(yaml.safe_dump(prom_configs[port], sort_keys=False), encoding="utf-8")
            return [prometheus_program, f"--config.file={prom_dir / 'prometheus.yml'}", f"--storage.tsdb.path={prom_dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}", f"--web.external-url=http://127.0.0.1:{port}"]

        prometheus = Daemon("Prometheus", prometheus_command, prom_dir / "prometheus.log")
        cleanup.callback(prometheus.stop)
        prometheus.start()

        yield Stack(folder=folder, drill=drill, venue=venue, service=service, prometheus=prometheus,
                    alertmanager=alertmanager, receiver=receiver, url_file_used=url_file_used,
                    configs={"prometheus": (prom_original, prom_configs[prometheus.port]),
                             "alertmanager": (am_original, am_config)})
        # Leaving the block stops, newest first: Prometheus, Alertmanager, the service and the venue, the receiver.


# -- the tests -------------------------------------------------------------------------------------


def test_the_derived_configs_change_only_addresses_credentials_and_intervals(stack):
    prom_before, prom_after = stack.configs["prometheus"]
    assert changed_paths(prom_before, prom_after) == {
        "global.scrape_interval", "global.evaluation_interval",
        "alerting.alertmanagers.0.static_configs.0.targets.0",
        "scrape_configs.0.scrape_interval", "scrape_configs.0.scrape_timeout",
        "scrape_configs.0.authorization.credentials_file", "scrape_configs.0.static_configs.0.targets.0",
        "scrape_configs.1.static_configs.0.targets.0",
    }
    assert prom_after["rule_files"] == ["rules.yml"]
    assert filecmp.cmp(PROMETHEUS_DIR / "rules.yml", stack.folder / "prometheus" / "rules.yml", shallow=False)
    am_before, am_after = stack.configs["alertmanager"]
    hook = ("receivers.0.webhook_configs.0.url_file",) if stack.url_file_used else (
        "receivers.0.webhook_configs.0.url_file", "receivers.0.webhook_configs.0.url")
    assert changed_paths(am_before, am_after) == {"route.group_wait", "route.group_interval", *hook}
    # Prometheus loaded exactly these rules.
    groups = stack.prometheus_api("rules")["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    assert loaded == {rule["alert"] for group in _yaml(PROMETHEUS_DIR / "rules.yml")["groups"] for rule in group["rules"]}


def test_prometheus_scrapes_the_service_with_the_read_token_from_its_file(stack):
    # Without the token the metrics are refused: the credentials file is what lets Prometheus in.
    refused = httpx.get(f"{stack.service.url}/metrics", timeout=10, trust_env=False)
    assert refused.status_code == 401

    def target() -> dict | None:
        active = stack.prometheus_api("targets?state=active")["activeTargets"]
        found = [t for t in active if t["labels"].get("job") == "tradepulse" and t["health"] == "up"]
        return found[0] if found else None

    up = eventually(target, timeout_seconds=30, interval_seconds=0.25)
    assert up["scrapeUrl"] == f"http://{stack.service_address}/api/v1/metrics"
    assert up["labels"] == {"job": "tradepulse", "instance": stack.service_address, "service": "tradepulse"}
    assert up["lastError"] == ""
    assert [float(r["value"][1]) for r in stack.query('up{job="tradepulse"}')] == [1.0]
    # The service's own metrics arrived, with its current (ACTIVE) state, and Prometheus knows its Alertmanager.
    if not stack.tripped:
        active = eventually(lambda: stack.query('tradepulse_trading_state{state="ACTIVE"} == 1'), timeout_seconds=30)
        assert active[0]["metric"]["instance"] == stack.service_address
        assert stack.webhook_alerts("TradePulseHalted", "firing") == []
    managers = stack.prometheus_api("alertmanagers")["activeAlertmanagers"]
    assert [manager["url"] for manager in managers] == [f"{stack.alertmanager.url}/api/v2/alerts"]


def test_a_venue_error_breaker_trip_reaches_the_webhook_as_tradepulse_halted_through_alertmanager(stack):
    tripped = stack.trip()
    assert [trip["breaker"] for trip in tripped["trips"]] == ["venue_errors"], tripped["trips"]

    firing = eventually(lambda: stack.webhook_alerts("TradePulseHalted", "firing"), timeout_seconds=60, interval_seconds=0.2)
    notification, alert = firing[0]
    rule = next(rule for group in _yaml(PROMETHEUS_DIR / "rules.yml")["groups"] for rule in group["rules"]
                if rule["alert"] == "TradePulseHalted")
    assert rule["labels"] == {"severity": "critical"}
    assert alert["labels"] == {
        "alertname": "TradePulseHalted", "severity": "critical",        # the rule's name and labels
        "state": "HALTED",                                               # the series' label
        "job": "tradepulse", "instance": stack.service_address, "service": "tradepulse",  # the scrape target's
        "stack": "tradepulse",                                           # Prometheus's external label
    }
    assert alert["annotations"]["runbook_url"] == "docs/operations.md#tradepulsehalted"
    assert alert["annotations"]["summary"] == f"Trading is HALTED on {stack.service_address}"
    assert alert["generatorURL"].startswith(stack.prometheus.url + "/graph?")
    # Alertmanager's routing: the repository's receiver, grouped by alert and instance, on the critical route.
    assert notification["receiver"] == "operators"
    assert notification["status"] == "firing"
    assert notification["groupLabels"] == {"alertname": "TradePulseHalted", "instance": stack.service_address}
    assert notification["groupKey"].startswith('{}/{severity="critical"}:'), notification["groupKey"]
    assert notification["externalURL"] == stack.alertmanager.url

    # The service's own alert says which breaker and strategy: the two sides tell one story.
    own = eventually(lambda: [body for body in stack.receiver.bodies(Stack.service_path) if body["kind"] == "breaker_trip"],
                     timeout_seconds=30, interval_seconds=0.1)
    assert own[0]["severity"] == "critical" and own[0]["details"]["strategy_id"] == STRATEGY_ID
    assert "venue error" in own[0]["message"], own[0]

    # An operator resumes: Prometheus sees ACTIVE again and Alertmanager sends the resolution (send_resolved).
    with stack.service.client() as client:
        client.resume("observability pipeline test: venue back")
        eventually(lambda: client.status()["trading_state"] == "ACTIVE", timeout_seconds=30, interval_seconds=0.1)
    resolved = eventually(lambda: stack.webhook_alerts("TradePulseHalted", "resolved"), timeout_seconds=60, interval_seconds=0.2)
    assert resolved[0][1]["labels"] == alert["labels"]


def _schema() -> dict:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def test_every_line_the_service_logged_validates_against_the_published_schema(stack):
    stack.trip()  # so the log holds a breaker trip, its alert and failing venue calls, not only a start
    validator = jsonschema.Draft202012Validator(_schema())
    lines = stack.service.log.read_text(encoding="utf-8").splitlines()
    records, other = [], []
    for number, line in enumerate(lines, start=1):
        if not line.startswith("{"):
            other.append(line)
            continue
        record = json.loads(line)
        errors = sorted(validator.iter_errors(record), key=str)
        assert not errors, f"service.log line {number} breaks the schema: {errors[0].message}\n{line}"
        records.append(record)
    # Nothing else shares the file but the readiness line on stdout.
    assert len(other) == 1 and READY_LINE.match(other[0]), other
    assert len(records) >= 20
    assert {record["service"] for record in records} == {"tradepulse"}
    levels = {record["level"] for record in records}
    assert {"INFO", "CRITICAL"} <= levels, levels
    assert any(record.get("correlation_id") for record in records)
    assert any(record.get("strategy_id") == STRATEGY_ID for record in records)
    # The line of the breaker trip's alert is among them.
    assert any(record["level"] == "CRITICAL" and "HALTED" in record["message"] for record in records)


GOOD_LINE = {"ts": "2026-11-22T04:13:18.123+00:00", "level": "INFO", "logger": "tradepulse.service.host",
             "message": "order submitted", "service": "live-btc", "correlation_id": "obs-btc-17", "symbol": "BTC/USDT",
             "quantity": "0.001"}


@pytest.mark.parametrize(("change", "why"), [
    ({"ts": None}, "ts is required"),
    ({"ts": "2026-11-22 04:13:18"}, "ts is ISO-8601 UTC with milliseconds"),
    ({"ts": "2026-11-22T04:13:18.123+02:00"}, "ts is in UTC"),
    ({"level": "WARN"}, "level is a Python level name"),
    ({"logger": ""}, "logger names the logger"),
    ({"message": None}, "message is required"),
    ({"message": {"text": "structured"}}, "message is a string"),
    ({"service": 7}, "service is a string"),
    ({"correlation_id": 17}, "correlation_id is a string"),
    ({"exception": "Traceback ..."}, "exception comes with exception_type"),
])
def test_the_schema_rejects_malformed_lines(change, why):
    validator = jsonschema.Draft202012Validator(_schema())
    assert validator.is_valid(GOOD_LINE)
    bad = {**GOOD_LINE, **change}
    bad = {key: value for key, value in bad.items() if value is not None}
    assert not validator.is_valid(bad), why
    for not_an_object in ([GOOD_LINE], "a plain text line", None):
        assert not validator.is_valid(not_an_object)


def test_what_the_formatter_writes_validates_including_exceptions_stacks_and_odd_extras():
    """The formatter itself, fed what a caller can give it, never writes a line the schema refuses."""
    import io
    import logging
    from decimal import Decimal

    from tradepulse.obs import configure_logging, correlation

    stream = io.StringIO()
    logger = logging.getLogger(f"tp-obs-schema-{secrets.token_hex(4)}")
    logger.propagate = False
    handler = configure_logging("DEBUG", stream, service="schema-test", logger=logger)
    try:
        logger.debug("plain")
        with correlation("ord-1"):
            logger.info("extras %s", "rendered", extra={"price": Decimal("1.5"), "when": time, "nested": {"a": [1, None]}})
        try:
            raise KeyError("missing")
        except KeyError:
            logger.exception("failed")
        logger.warning("with stack", stack_info=True)
        logger.error("exc_info without an exception", exc_info=(None, None, None))
        # Extras named like the fixed fields, or like the exception and stack fields, or a non-text id.
        logger.critical("odd extras", extra={"service": "spoofed", "ts": 1, "level": 2, "logger": None, "exception": 3, "exception_type": 4, "stack": 5, "correlation_id": 6})
    finally:
        logger.removeHandler(handler)
    validator = jsonschema.Draft202012Validator(_schema())
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 6
    for record in records:
        errors = list(validator.iter_errors(record))
        assert not errors, f"{errors[0].message}: {record}"
    odd = records[-1]
    assert odd["service"] == "schema-test" and odd["extra_service"] == "spoofed"
    # Extras named like the exception and stack fields keep their values beside them (they used to
    # replace them, or lose the whole record when not text); an explicit correlation id is text.
    assert (odd["extra_exception"], odd["extra_exception_type"], odd["extra_stack"]) == (3, 4, 5)
    assert "exception" not in odd and "stack" not in odd and odd["correlation_id"] == "6"


if __name__ == "__main__":  # pragma: no cover - run this file alone
    sys.exit(pytest.main([__file__, "-q"]))
