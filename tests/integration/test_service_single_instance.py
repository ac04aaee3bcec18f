"""One service per state directory: a second one is refused with one clear line, the first keeps running."""

from __future__ import annotations

import subprocess
import sys

from service_fixtures import paper_config

from tradepulse.service.processes import Drill


def test_a_second_service_on_the_same_state_directory_is_refused_and_the_first_is_untouched(tmp_path):
    config = tmp_path / "live.toml"
    config.write_text(paper_config())
    with Drill(tmp_path, prefix="single") as drill:
        first = drill.service(config)
        env = drill.credentials.environ()
        second = subprocess.run([sys.executable, "-m", "tradepulse.cli", "serve", "--config", str(config)],
                                capture_output=True, text=True, env=env, timeout=120)
        assert second.returncode == 2
        assert "another service is running on state directory" in second.stderr
        assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1
        # The refused one did not take the running service's advertisement with it.
        assert (first.state_dir / "service.json").exists()
        with first.client() as client:
            assert client.health()["status"] == "ok"
        assert first.stop() == 0
