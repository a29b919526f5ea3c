"""Settings safety (#18 part 5): ``TRELLIS_ENV=production`` refuses to start without an explicit secret key,
and ``trellis config check`` prints the effective settings with secrets masked."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from api.app import create_app
from api.cli import build_cli
from core.config import load_settings, masked
from core.errors import ConfigError

NEEDS_KEY = "TRELLIS_ENV=production needs an explicit TRELLIS_SECRET_KEY"


def run(env, *args):
    return CliRunner().invoke(build_cli(), list(args), env=env, catch_exceptions=False)


@pytest.fixture
def env(tmp_path):
    return {"TRELLIS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "TRELLIS_INSTANCE_PATH": str(tmp_path),
            "TRELLIS_SECRET_KEY": None, "TRELLIS_ENV": None, "TRELLIS_PLUGINS": "all"}


def test_production_without_a_secret_key_does_not_start(monkeypatch, tmp_path):
    monkeypatch.delenv("TRELLIS_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match=NEEDS_KEY):
        create_app({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert load_settings({"ENV": "production", "SECRET_KEY": "k" * 64}, environ={}).secret_key == "k" * 64
    assert len(load_settings({}, environ={}).secret_key) == 64      # development: a random key, as before


def test_an_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="TRELLIS_ENV: 'prod' is not one of development, production"):
        load_settings({}, environ={"TRELLIS_ENV": "prod"})


def test_a_command_in_production_without_a_key_ends_with_one_line(env):
    result = run({**env, "TRELLIS_ENV": "production"}, "db", "current")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert NEEDS_KEY in result.output and "Traceback" not in result.output


def test_config_check_masks_secrets_and_url_passwords(env):
    result = run({**env, "TRELLIS_SECRET_KEY": "s3cret-value", "TRELLIS_ENV": "production",
                  "TRELLIS_RATELIMIT_STORAGE_URI": "redis://:hunter2@127.0.0.1:6379/0"}, "config", "check")
    assert result.exit_code == 0, result.output
    assert "s3cret-value" not in result.output and "hunter2" not in result.output
    lines = {line.split()[0]: line.split(None, 1)[1] for line in result.output.splitlines() if line.startswith("TRELLIS_")}
    assert lines["TRELLIS_SECRET_KEY"] == "***  (environment)"
    assert lines["TRELLIS_RATELIMIT_STORAGE_URI"] == "redis://:***@127.0.0.1:6379/0  (environment)"
    assert lines["TRELLIS_GRAPHQL_MAX_TOKENS"] == "5000  (default)"                 # not a secret
    assert lines["TRELLIS_SECURE_COOKIES"] == "0  (default)"
    assert "TRELLIS_RETAIL_MEMBERSHIP_TIERS" in lines                                # a plugin's setting
    assert result.output.rstrip().endswith("The settings are valid.")


def test_config_check_runs_when_the_app_would_not_start_and_names_the_problem(env):
    result = run({**env, "TRELLIS_ENV": "production",
                  "TRELLIS_DATABASE_URL": "postgresql://trellis:pw-77@db.internal/trellis"}, "config", "check")
    assert result.exit_code == 1
    assert "TRELLIS_SECRET_KEY" in result.output and "(not set)" in result.output
    assert "postgresql://trellis:***@db.internal/trellis" in result.output and "pw-77" not in result.output
    assert f"Error: {NEEDS_KEY}" in result.output


def test_masking_rules():
    assert masked("secret_key", "x") == "***" and masked("retail_api_token", "x") == "***"
    assert masked("password_hash_method", "scrypt") == "scrypt"
    assert masked("database_url", "postgresql://u@h/db") == "postgresql://u@h/db"      # no password to hide


@pytest.mark.parametrize("variable", ["TRELLIS_LOGIN_ACCOUNT_LIMIT", "TRELLIS_LOGIN_ADDRESS_LIMIT"])
@pytest.mark.parametrize("value", ["five a minute", "5 per", "0 per minute"])
def test_a_sign_in_limit_that_is_no_rate_limit_stops_the_start(variable, value):
    """Refused when the settings load, naming the variable, not at the first sign-in (a 500 then)."""
    with pytest.raises(ConfigError, match=f"{variable}: '{value}' is not a rate limit"):
        load_settings({}, environ={variable: value})
    assert getattr(load_settings({}, environ={variable: "20/hour"}), variable.lower().removeprefix("trellis_")) == "20/hour"
