"""API tokens rotate without a restart: SIGHUP makes a real `tradepulse serve` re-read its token files."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from polling import eventually
from service_fixtures import clean_env, paper_config, stop_process

from tradepulse.store import Journal


def _write(path: Path, *tokens: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(",".join(tokens) + "\n")


def test_sighup_swaps_the_tokens_with_no_gap_and_a_bad_file_keeps_the_old_ones(tmp_path: Path) -> None:
    old, new, operate = (f"{name}-{secrets.token_urlsafe(24)}" for name in ("old", "new", "operate"))
    read_file, operate_file = tmp_path / "read.token", tmp_path / "operate.token"
    _write(read_file, old)
    _write(operate_file, operate)
    (tmp_path / "live.toml").write_text(paper_config(speed=10))
    env = {**clean_env(), "PYTHONWARNINGS": "ignore", "TRADEPULSE_API_READ_TOKEN_FILE": str(read_file),
           "TRADEPULSE_API_OPERATE_TOKEN_FILE": str(operate_file)}
    log = tmp_path / "service.log"
    with log.open("wb") as output:
        service = subprocess.Popen([sys.executable, "-m", "tradepulse.cli", "serve", "--config", str(tmp_path / "live.toml")],
                                   cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = eventually(lambda: (json.loads((tmp_path / "state" / "service.json").read_text()) if
                                  (tmp_path / "state" / "service.json").exists() else None), 90)["url"]

        def answer(token: str) -> int:
            return httpx.get(f"{url}/token", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

        assert (answer(old), answer(new)) == (200, 401)
        _write(read_file, old, new)  # step one: both
        service.send_signal(signal.SIGHUP)
        eventually(lambda: answer(new) == 200, 30)
        assert answer(old) == 200
        _write(read_file, new)  # step three: only the new one
        service.send_signal(signal.SIGHUP)
        eventually(lambda: answer(old) == 401, 30)
        assert answer(new) == 200 and answer(operate) == 200
        # A broken file (empty) is refused: the tokens in use stay, the service says why in its log.
        read_file.write_text("")
        service.send_signal(signal.SIGHUP)
        eventually(lambda: "API token reload refused" in log.read_text(errors="replace"), 30)
        assert answer(new) == 200
        assert service.poll() is None  # never restarted, never down
    finally:
        stop_process(service)
    with Journal(tmp_path / "state" / "service.sqlite", read_only=True) as journal:
        reloads = [event.payload for event in journal.iter_events(kinds=["service.tokens_reloaded"])]
        starts = journal.count("service.started")
    assert reloads == [{"tokens": {"read": 2, "operate": 1, "approve": 0}}, {"tokens": {"read": 1, "operate": 1, "approve": 0}}]
    assert starts == 1
    text = log.read_text(errors="replace")
    for token in (old, new, operate):
        assert token not in text
