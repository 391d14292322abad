"""Checks on the project's own files: the deployment descriptors, migrations and settings guards."""

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
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


# What the test settings put into this process's environment; a production process has none of it.
TEST_ENVIRONMENT = (
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
    "DEBUG",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "WECOM_SANDBOX_ALLOWED",
    # Set by the browser tests' conftest for Playwright, in whichever worker ran one first.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def _import_settings(env: dict, code: str = "") -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in TEST_ENVIRONMENT}
    clean.update(env, DJANGO_SETTINGS_MODULE="scrm.settings.base")
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
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


def _production(tmp_path, **env: str) -> dict:
    return {
        "SIYU_VAR_DIR": str(tmp_path),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": "rYJ3b-kvtBF2vQBhNUYi2Oyr0M4l2mbfpXQ6ZUhzBxk=",
        **env,
    }


HTTPS_SETTINGS = (
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "WECOM_SANDBOX_ALLOWED",
)


def _settings(env: dict, names=HTTPS_SETTINGS) -> dict:
    code = (
        "from django.conf import settings; import json; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}))"
    )
    result = _import_settings(env, code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_production_is_https_only_by_default_and_passes_the_deploy_check(tmp_path):
    assert _settings(_production(tmp_path)) == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 60 * 60,
        "WECOM_SANDBOX_ALLOWED": False,  # production's WeCom is WeCom
    }
    env = {k: v for k, v in os.environ.items() if k not in TEST_ENVIRONMENT}
    env.update(_production(tmp_path), DJANGO_SETTINGS_MODULE="scrm.settings.base")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_trial_on_plain_http_turns_the_https_defaults_off(tmp_path):
    env = _production(tmp_path, SECURE_COOKIES="false", SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    assert _settings(env) == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "WECOM_SANDBOX_ALLOWED": False,
    }


def test_development_serves_plain_http_and_allows_the_sandbox(tmp_path):
    assert _settings({"SIYU_VAR_DIR": str(tmp_path), "DEBUG": "true"}) == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "WECOM_SANDBOX_ALLOWED": True,  # `make run`'s demo tenant is connected to the local sandbox
    }


def test_the_filesystem_broker_keeps_everything_under_var(tmp_path):
    """kombu's default control folder is ./control, in the checkout (a leftover was once committed)."""
    env = {"SIYU_VAR_DIR": str(tmp_path), "DEBUG": "true", "REDIS_URL": ""}
    options = _settings(env, ["CELERY_BROKER_TRANSPORT_OPTIONS"])["CELERY_BROKER_TRANSPORT_OPTIONS"]
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        assert Path(options[key]).is_relative_to(tmp_path), (key, options[key])
    assert "/control/" in (ROOT / ".gitignore").read_text().splitlines()


# --- Content-Security-Policy -------------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in header.split(";")) if d}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/customers", "/api/docs/", "/api/v1/auth/csrf/", "/api/schema/"])
def test_every_page_and_the_api_carry_a_policy_without_inline_scripts(client, settings, tmp_path, path):
    settings.FRONTEND_DIST = tmp_path  # a stand-in dashboard build
    (tmp_path / "index.html").write_text('<!doctype html><script type="module" src="/assets/a.js"></script>')
    response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_api_docs_load_their_script_from_a_file(client):
    """Swagger UI with script-src 'self': its start-up code must come from a URL, not inline."""
    html = client.get("/api/docs/").content.decode()
    scripts = html.split("<script")[1:]
    assert scripts
    assert all(tag.lstrip().startswith("src=") for tag in scripts), scripts
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert b"SwaggerUIBundle" in script.content


# --- slow clients --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, timeout: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.fixture
def gunicorn(transactional_db, settings):
    """gunicorn as the Procfile starts it (scrm/gunicorn_conf.py, 2 workers), on this test's database."""
    db = settings.DATABASES["default"]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="scrm.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        PORT=str(port),
        WEB_CONCURRENCY="2",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "scrm.wsgi", "--config", "python:scrm.gunicorn_conf"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(port, "/healthz", timeout=2) == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_two_clients_that_never_send_their_body_do_not_stall_the_server(gunicorn, tenant_a):
    """The review's finding: two POSTs to a callback URL that declare 60 KB and send nothing froze
    both sync workers, and the whole API, for gunicorn's 30 s timeout."""
    tenant_a.callback_token, tenant_a.encoding_aes_key = "Token1", "k" * 43
    tenant_a.save()  # a configured tenant: its callback view reads the body
    stalled = []
    for _ in range(2):
        sock = socket.create_connection(("127.0.0.1", gunicorn), timeout=5)
        sock.sendall(
            b"POST /wecom/callback/tenant-a/?msg_signature=x&timestamp=1&nonce=1 HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: 61440\r\n\r\n<xml>"
        )
        stalled.append(sock)
    try:
        time.sleep(1)  # both requests are in the server, waiting for their bodies
        started = time.monotonic()
        for _ in range(4):
            assert _get(gunicorn, "/healthz", timeout=5) == 200
        assert time.monotonic() - started < 5
    finally:
        for sock in stalled:
            sock.close()


def test_the_compose_stack_puts_a_buffering_proxy_in_front_of_gunicorn():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    proxy, web = services["proxy"], services["web"]
    assert proxy["image"].startswith("nginx:")
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert proxy["ports"] == ["8000:8000"]
    assert "healthcheck" in proxy
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    # gunicorn is reachable only through the proxy, and trusts exactly that one proxy's X-Forwarded-*.
    assert "ports" not in web
    assert web["environment"]["NUM_PROXIES"] == "1"

    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    directives = dict(
        line.strip().rstrip(";").split(None, 1)
        for line in conf.splitlines()
        if line.strip().endswith(";") and not line.strip().startswith("#")
        and not line.strip().startswith("proxy_set_header")
    )  # fmt: skip
    assert directives["proxy_request_buffering"] == "on"  # whole requests before gunicorn
    assert directives["proxy_buffering"] == "on"  # whole answers before slow readers
    for timeout in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert int(directives[timeout].removesuffix("s")) <= 30, timeout
    assert int(directives["client_max_body_size"].removesuffix("m")) * 1024 * 1024 > 2 * 1024 * 1024
    assert directives["proxy_pass"] == "http://siyu_web"
    assert "server web:8000;" in conf
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
