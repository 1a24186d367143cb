from pathlib import Path

import pytest

from kiosk.config import SETTINGS, ConfigError, describe, load


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kiosk.toml").write_text(text, encoding="utf-8")
    return folder


def test_defaults_when_there_is_no_file(tmp_path: Path) -> None:
    config = load(env={}, config_dir=tmp_path)
    assert config["broker.port"] == 1883
    assert config["broker.bind"] == "0.0.0.0"
    assert config.source("broker.port") == "default"
    assert config.database_url.endswith("kiosk.db")


def test_every_setting_has_type_default_and_help() -> None:
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys))
    for setting in SETTINGS:
        assert setting.help and setting.parse(setting.default) == setting.default


def test_file_then_environment_then_command_line(tmp_path: Path) -> None:
    folder = write(tmp_path, "[broker]\nport = 1900\nbind = \"127.0.0.1\"\n[http]\nport = 9000\n")
    config = load({"http.port": 9100}, env={"KIOSK_BROKER_PORT": "1901"}, config_dir=folder)
    assert config["broker.bind"] == "127.0.0.1"
    assert config.source("broker.bind").startswith("file ")
    assert config["broker.port"] == 1901
    assert config.source("broker.port") == "env KIOSK_BROKER_PORT"
    assert config["http.port"] == 9100
    assert config.source("http.port") == "command line"


def test_config_dir_from_environment(tmp_path: Path) -> None:
    folder = write(tmp_path / "elsewhere", "[http]\nport = 9001\n")
    config = load(env={"KIOSK_CONFIG_DIR": str(folder)})
    assert config["http.port"] == 9001
    assert config.file == folder / "kiosk.toml"


def test_data_dir_from_environment(tmp_path: Path) -> None:
    config = load(env={"KIOSK_DATA_DIR": str(tmp_path / "d")}, config_dir=tmp_path)
    assert config.data_dir == tmp_path / "d"
    assert config.database_url == f"sqlite:///{tmp_path / 'd' / 'kiosk.db'}"


def test_broken_file_names_the_line(tmp_path: Path) -> None:
    folder = write(tmp_path, "[broker]\nport = 1900\nbind = 127.0.0.1\n")
    with pytest.raises(ConfigError, match="line 3"):
        load(env={}, config_dir=folder)


def test_broken_file_falls_back_to_defaults_loudly_when_allowed(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    folder = write(tmp_path, "[broker\nport = 1900\n")
    config = load(env={}, config_dir=folder, strict_file=False)
    assert config["broker.port"] == 1883
    assert any("IGNORING THE WHOLE FILE" in w for w in config.warnings)
    assert "IGNORING THE WHOLE FILE" in caplog.text


def test_a_bad_value_keeps_the_default_and_names_key_and_line(tmp_path: Path) -> None:
    folder = write(tmp_path, "[broker]\nbind = \"127.0.0.1\"\nport = \"many\"\n")
    config = load(env={}, config_dir=folder)
    assert config["broker.port"] == 1883
    assert config["broker.bind"] == "127.0.0.1"
    assert any("line 3" in w and "broker.port" in w for w in config.warnings)


def test_out_of_range_and_unknown_keys_are_reported(tmp_path: Path) -> None:
    folder = write(tmp_path, "role = \"kettle\"\n[broker]\nport = 70000\ncolour = \"blue\"\n")
    config = load(env={}, config_dir=folder)
    assert config["role"] == "hub" and config["broker.port"] == 1883
    text = "\n".join(config.warnings)
    assert "not one of" in text and "above the maximum" in text and "unknown setting 'broker.colour'" in text


def test_a_bad_command_line_value_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="command line"):
        load({"broker.port": "zero"}, env={}, config_dir=tmp_path)


def test_show_lists_every_setting_with_its_source_and_hides_passwords(tmp_path: Path) -> None:
    folder = write(tmp_path, "[broker]\npassword = \"hunter2\"\n")
    text = describe(load(env={}, config_dir=folder))
    assert "hunter2" not in text
    for setting in SETTINGS:
        assert setting.key in text
    assert "broker.password" in text and "***" in text


def test_closing_time_must_be_a_time_of_day() -> None:
    from kiosk.config import ConfigError, setting

    closing = setting("lockers.closing_time")
    assert closing.parse("21:30") == "21:30" and closing.parse("") == ""
    with pytest.raises(ConfigError, match="lockers.closing_time: '9pm' is not like '21:30'"):
        closing.parse("9pm")
    with pytest.raises(ConfigError):
        closing.parse("24:00")


@pytest.mark.parametrize("text", ["EUR", "🏛️ Library €", 'quote " and \\ back', "tab\tnew\nline\x7f\x01", "中文 ₹"])
def test_any_text_is_written_as_valid_toml(text: str) -> None:
    """json.dumps wrote an emoji as a surrogate pair of \\u escapes, which tomllib refuses."""
    import tomllib

    from kiosk.config import toml_string

    assert tomllib.loads(f"key = {toml_string(text)}")["key"] == text


def test_runtime_toml_with_text_outside_the_basic_plane_reads_back(tmp_path: Path) -> None:
    import tomllib

    from kiosk.config import RUNTIME_FILE_NAME, save_runtime

    save_runtime(tmp_path, {"energy.currency": "₹"})
    assert tomllib.loads((tmp_path / RUNTIME_FILE_NAME).read_text(encoding="utf-8"))["energy.currency"] == "₹"


def test_settings_are_read_by_section_and_name_with_their_types(tmp_path: Path) -> None:
    folder = write(tmp_path, "[broker]\nport = 1900\n[ingest]\nmax_past_s = 120\n")
    config = load(env={"KIOSK_HTTP_STATUS_BIND": "127.0.0.1:9100"}, config_dir=folder)
    assert config.broker.port == 1900 and isinstance(config.broker.port, int)
    assert config.ingest.max_past_s == 120.0 and isinstance(config.ingest.max_past_s, float)
    assert config.http.status_bind == "127.0.0.1:9100"
    assert config.role == "hub" and config.log.level == "INFO"


def test_every_setting_is_an_attribute_of_its_section(tmp_path: Path) -> None:
    config = load(env={}, config_dir=tmp_path)
    for setting in SETTINGS:
        section, _, name = setting.key.rpartition(".")
        holder = getattr(config, section) if section else config.general
        assert getattr(holder, name) == config[setting.key] == setting.default


def test_a_section_reads_the_live_value_after_an_admin_changes_it(tmp_path: Path) -> None:
    from kiosk.config import Value

    config = load(env={}, config_dir=tmp_path)
    energy = config.energy
    config.values["energy.tariff_per_kwh"] = Value(0.31, "admin tab")
    assert energy.tariff_per_kwh == 0.31 and config.energy.tariff_per_kwh == 0.31
