"""What `tradepulse dashboard` asks Voila for: read-only pages, code hidden, main pages preheated."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradepulse.cli.dashboard_cmd import (
    DASHBOARD_PAGES,
    TEMPLATE,
    find_notebooks_dir,
    voila_command,
    voila_config,
)
from tradepulse.errors import ConfigError

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"


def test_pages_are_rendered_without_code_or_tracebacks_on_the_offline_lab_template():
    config = voila_config(NOTEBOOKS)["VoilaConfiguration"]
    assert config["strip_sources"] is True
    assert config["show_tracebacks"] is False
    assert config["template"] == TEMPLATE == "tradepulse"
    template = Path(__file__).resolve().parents[3] / "tradepulse/widgets/jupyter_data/voila/templates/tradepulse"
    assert '"base_template": "lab"' in (template / "conf.json").read_text()


def test_each_main_page_gets_one_preheated_kernel_and_other_notebooks_none():
    config = voila_config(NOTEBOOKS)
    assert config["VoilaConfiguration"]["preheat_kernel"] is True
    pools = config["VoilaKernelManager"]["kernel_pools_config"]
    assert pools == {"default": {"pool_size": 0}, **{page: {"pool_size": 1} for page in DASHBOARD_PAGES}}


def test_preheating_can_be_turned_off():
    config = voila_config(NOTEBOOKS, preheat=False)
    assert config["VoilaConfiguration"]["preheat_kernel"] is False
    assert "VoilaKernelManager" not in config


def test_voila_keeps_the_promised_port_and_reads_only_our_config(tmp_path):
    command = voila_command(NOTEBOOKS, port=8899, host="127.0.0.1", config_dir=tmp_path)
    assert "--port=8899" in command and "--Voila.ip=127.0.0.1" in command
    assert "--Voila.port_retries=0" in command
    assert f"--Voila.config_file_paths={tmp_path}" in command


def test_the_checkout_notebooks_are_found_and_a_wrong_folder_is_explained(tmp_path):
    assert find_notebooks_dir(NOTEBOOKS) == NOTEBOOKS.resolve()
    for page in DASHBOARD_PAGES:
        assert (NOTEBOOKS / page).is_file()
    with pytest.raises(ConfigError, match="no dashboard notebooks found.*--notebooks-dir"):
        find_notebooks_dir(tmp_path)
