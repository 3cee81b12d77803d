from pathlib import Path

import pytest

from stripe_pipeline.settings import ConfigError, load_settings


def test_webhook_secrets_are_split_for_rotation(tmp_path: Path) -> None:
    settings = load_settings({"STRIPE_WEBHOOK_SECRET": "whsec_new, whsec_old"}, tmp_path / ".env")
    assert settings.stripe_webhook_secrets == ("whsec_new", "whsec_old")


def test_rate_limit_defaults_follow_the_key_mode(tmp_path: Path) -> None:
    test_mode = load_settings({"STRIPE_CLIENT_SECRET": "sk_test_x"}, tmp_path / ".env")
    live_mode = load_settings({"STRIPE_CLIENT_SECRET": "sk_live_x"}, tmp_path / ".env")
    assert test_mode.requests_per_second == 25
    assert live_mode.requests_per_second == 100
    override = load_settings({"STRIPE_RATE_LIMIT": "7.5"}, tmp_path / ".env")
    assert override.requests_per_second == 7.5


def test_environment_wins_over_dotenv_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("STRIPE_CONNECT_ENABLED=true\nSTRIPE_API_BASE=http://from-file/\n")
    settings = load_settings({"STRIPE_API_BASE": "http://from-env/"}, dotenv)
    assert settings.connect_enabled is True
    assert settings.api_base == "http://from-env"


def test_data_dir_moves_every_default_path(tmp_path: Path) -> None:
    settings = load_settings({"STRIPE_PIPELINE_DATA_DIR": str(tmp_path / "d")}, tmp_path / ".env")
    assert settings.warehouse_path == tmp_path / "d" / "warehouse.duckdb"
    assert settings.ops_database_url == f"sqlite:///{tmp_path / 'd' / 'ops.sqlite'}"


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "STRIPE_CLIENT_SECRET": "sk_test_secretvalue",
            "STRIPE_WEBHOOK_SECRET": "whsec_abc",
            "OPERATOR_TOKEN": "tok",
        },
        tmp_path / ".env",
    )
    text = repr(settings)
    assert "sk_test_secretvalue" not in text and "whsec_abc" not in text and "tok'" not in text


def test_bad_rate_limit_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STRIPE_RATE_LIMIT"):
        load_settings({"STRIPE_RATE_LIMIT": "fast"}, tmp_path / ".env")


def test_missing_secret_key_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STRIPE_CLIENT_SECRET"):
        load_settings({}, tmp_path / ".env").require_secret_key()
