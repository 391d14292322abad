"""Checks on the project's own files: the deployment descriptors, migrations and settings guards."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_docker_compose_runs_the_procfile_processes_with_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    processes = procfile()
    # The WeCom sandbox is the demo's fake WeCom: `make run` only, never in the production stack.
    assert processes.pop("sandbox").startswith("python manage.py wecom_sandbox")
    assert "sandbox" not in services
    for name, command in processes.items():
        assert services[name]["command"] == command, name
        assert "healthcheck" in services[name], name
    for name in ("postgres", "redis"):
        assert "healthcheck" in services[name]
    app_env = services["web"]["environment"]
    assert app_env["DATABASE_URL"].startswith("postgres://")
    assert app_env["REDIS_URL"].startswith("redis://")
    # Secrets are required from the environment, never written into the file.
    assert app_env["SECRET_KEY"].startswith("${SECRET_KEY:?")


@pytest.mark.django_db
def test_migrations_are_complete():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


def _import_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG")}
    clean.update(env, DJANGO_SETTINGS_MODULE="scrm.settings.base")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    # DEBUG off explicitly: a developer's .env (DEBUG=true) must not mask the production rule.
    result = _import_settings({"SIYU_VAR_DIR": str(tmp_path), "DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_development_generates_secrets_once_into_var(tmp_path):
    assert _import_settings({"SIYU_VAR_DIR": str(tmp_path), "DEBUG": "true"}).returncode == 0
    secret = (tmp_path / "secret_key").read_text()
    key = (tmp_path / "field_encryption_key").read_text()
    assert _import_settings({"SIYU_VAR_DIR": str(tmp_path), "DEBUG": "true"}).returncode == 0
    assert (tmp_path / "secret_key").read_text() == secret
    assert (tmp_path / "field_encryption_key").read_text() == key
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
