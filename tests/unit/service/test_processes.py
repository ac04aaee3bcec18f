"""The child-process machinery of drills, trials and the demo, with real processes.

The local venue starts and answers; a paper service starts, answers through its client, stops
with 0 and takes its service.json with it; a service that cannot start fails fast with one line
that names its log; and a ``with`` block whose body raises still stops what it started.
"""

from __future__ import annotations

import json
import os

import httpx
import pytest

from service_fixtures import paper_config
from tradepulse.service.processes import (
    Drill,
    LocalVenue,
    ProcessFailed,
    ServiceProcess,
    generated_credentials,
    wait_for,
)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_local_venue_starts_answers_ping_and_takes_fault_settings(tmp_path):
    env = generated_credentials("unit").environ()
    with LocalVenue(tmp_path, env, speed=5, balances={"USDT": "100"}) as venue:
        assert venue.rest_url.endswith("/api/v3") and venue.base_url + "/api/v3" == venue.rest_url
        answer = httpx.get(f"{venue.rest_url}/ping", timeout=10)
        assert answer.status_code == 200 and answer.json() == {}
        assert venue.faults(latency_ms=5)["latency_ms"] == 5
        venue.clear_faults()
        pid = venue.pid
    assert venue.process.returncode == 0
    assert _gone(pid)


def test_a_paper_service_starts_answers_health_and_stops_with_zero(tmp_path):
    config = tmp_path / "live.toml"
    config.write_text(paper_config())
    with Drill(tmp_path, prefix="unit") as drill:
        service = drill.service(config)
        assert (service.state_dir / "service.json").exists()
        assert json.loads((service.state_dir / "service.json").read_text())["pid"] == service.pid
        with service.client() as client:
            assert client.health()["status"] == "ok"
            assert client.scope() == "operate"
        assert service.stop() == 0
        assert not (service.state_dir / "service.json").exists()
    # The generated token never reached the log.
    assert drill.credentials.operate_token not in service.log.read_text()


def test_a_service_with_a_bad_config_fails_start_with_one_line_naming_its_log(tmp_path):
    config = tmp_path / "live.toml"
    config.write_text(paper_config(strategy="no_such_strategy"))
    service = ServiceProcess(config, generated_credentials("unit").environ(), start_timeout=60)
    with pytest.raises(ProcessFailed) as failed:
        service.start()
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("the service exited with code ") and message.endswith(f"(log: {service.log})")
    assert "no_such_strategy" in message
    assert not service.running


def test_everything_started_in_a_drill_stops_when_its_body_raises(tmp_path):
    config = tmp_path / "live.toml"
    config.write_text(paper_config())
    with pytest.raises(RuntimeError, match="a step failed"), Drill(prefix="unit") as drill:
        folder = drill.folder
        venue = drill.venue(speed=5)
        service = drill.service(config)
        pids = [venue.pid, service.pid]
        raise RuntimeError("a step failed")
    assert not venue.running and not service.running
    assert service.process.returncode == 0  # stopped gracefully, not killed
    assert all(_gone(pid) for pid in pids)
    assert not folder.exists()


def test_wait_for_returns_the_first_truthy_value_or_names_what_it_waited_for():
    values = iter([0, None, "ready"])
    assert wait_for(lambda: next(values), 5, "a value", interval=0.01) == "ready"
    with pytest.raises(TimeoutError, match="the impossible: not within 0.05 s"):
        wait_for(lambda: False, 0.05, "the impossible", interval=0.01)
