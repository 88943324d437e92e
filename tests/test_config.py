"""Configuration: the sample lists every option, the file and AULA_* variables override defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from server.config import ConfigError, load_config, option_names

SAMPLE = Path(__file__).resolve().parent.parent / "aula.sample.toml"


def test_the_sample_lists_every_option_in_its_section() -> None:
    text = SAMPLE.read_text()
    listed: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if match := re.fullmatch(r"\[(\w+)\]", line):
            section = match.group(1)
        elif match := re.fullmatch(r"# (\w+) = .*", line):
            listed[match.group(1)] = section
    assert listed == option_names()


def test_the_sample_uncommented_is_a_valid_config_equal_to_the_defaults(tmp_path: Path) -> None:
    uncommented = re.sub(r"^# (\w+ = .*)$", r"\1", SAMPLE.read_text(), flags=re.MULTILINE)
    uncommented = uncommented.replace('web_dir = "<checkout>/web"', "")
    path = tmp_path / "aula.toml"
    path.write_text(uncommented)
    tomllib.loads(uncommented)
    from_sample = load_config(path, environ={})
    defaults = load_config(None, environ={})
    assert from_sample == defaults


def test_environment_wins_over_the_file_and_flags_win_over_both(tmp_path: Path) -> None:
    path = tmp_path / "aula.toml"
    path.write_text('[server]\nport = 9000\nhost = "127.0.0.9"\n[classroom]\nchat_history = 5\n')
    config = load_config(path, environ={"AULA_PORT": "9100", "AULA_DATA_DIR": str(tmp_path / "d")})
    assert (config.server.port, config.server.host) == (9100, "127.0.0.9")
    assert config.server.data_dir == (tmp_path / "d").resolve()
    assert config.classroom.chat_history == 5
    assert config.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'd').resolve() / 'aula.db'}"
    flagged = load_config(path, environ={"AULA_PORT": "9100"}, overrides={"port": 9200})
    assert flagged.server.port == 9200
    assert (
        load_config(None, environ={"AULA_ADMIN_PASSWORD": "s3cret pass"}).auth.admin_password == "s3cret pass"
    )
    proxies = load_config(None, environ={"AULA_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}).auth
    assert proxies.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")


@pytest.mark.parametrize(
    ("toml", "environ", "message"),
    [
        ("[server]\nport = 70000\n", {}, "port"),
        ("[server]\nport = 'eighty'\n", {}, "port"),
        ("[server]\ncolour = 'blue'\n", {}, "colour"),
        ("[nonsense]\nport = 1\n", {}, "nonsense"),
        ("[classroom]\nport = 1\n", {}, "port"),
        ("", {"AULA_MAX_BODY_BYTES": "12"}, "max_body_bytes"),
        ("", {"AULA_DEFAULT_SEAT_LIMIT": "600"}, "default_seat_limit"),
        ("not toml at all [", {}, "cannot read"),
        ("[auth]\ntrusted_proxies = ['10.0.0.0/8', 'proxy.example']\n", {}, "trusted_proxies"),
        ("", {"AULA_TRUSTED_PROXIES": "10.0.0.1,999.1.1.1"}, "trusted_proxies"),
    ],
)
def test_bad_configs_are_refused_with_the_option_named(
    tmp_path: Path, toml: str, environ: dict[str, str], message: str
) -> None:
    path = tmp_path / "aula.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ=environ)
