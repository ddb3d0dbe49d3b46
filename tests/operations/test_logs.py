"""LOG_FORMAT=json: every line a process writes is one JSON object with the context fields, and no
line carries message text, an API key or an OAuth code — checked on a real worker and a real
`rq cron` process, and on the web app's own handler."""
import io
import json
import logging
import os
import subprocess
import sys
import uuid

from tests.helpers.messages import SANDBOX_KEY, body, settle
from tests.helpers.paths import ROOT
from tests.helpers.waiting import wait_for
from tests.helpers.workers import FERNET_KEY, stop_worker

FIELDS = {"timestamp", "level", "logger", "message", "request_id", "workspace_id", "job_id"}
CANARY = "canary-text-7f3a9b never logged"


def json_lines(text):
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        record = json.loads(line)  # a line that is not JSON fails here
        assert isinstance(record, dict) and FIELDS <= set(record), line
        parsed.append(record)
    return parsed


def _env(app, database_url, redis_url):
    env = dict(os.environ, FLASK_CONFIG="development", SECRET_KEY="test-secret-key", TOKEN_ENCRYPTION_KEY=FERNET_KEY,
               DATABASE_URL=database_url, REDIS_URL=redis_url, PYTHONPATH=ROOT, LOG_FORMAT="json")
    for key, value in app.config.items():
        if key.startswith(("CLOSE_", "SYNC_")) and isinstance(value, (str, int, float)):
            env[key] = str(value)
    return env


def test_worker_lines_are_json_with_job_context_and_no_secrets(app, database_url, redis_url, tmp_path,
                                                               close_sandbox, sandbox_connection, api):
    import redis
    from rq import Worker
    out = tmp_path / "worker.log"
    name = f"json-worker-{uuid.uuid4().hex[:8]}"
    with open(out, "w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.rq", "worker", "--with-scheduler", "--worker-class", "jobs.worker.PreloadedWorker",
             "--url", redis_url, "--name", name, "--logging_level", "INFO", app.config["RQ_QUEUE"]],
            cwd=ROOT, env=_env(app, database_url, redis_url), stdout=sink, stderr=subprocess.STDOUT)
    try:
        connection = redis.Redis.from_url(redis_url)
        wait_for(lambda: proc.poll() is not None or any(w.name == name for w in Worker.all(connection=connection)),
                 timeout=120, message="the worker to register")
        posted = [body(text=f"{CANARY} {i} my code is 884213") for i in range(2)]
        for payload in posted:
            assert api.post(payload).status_code in (200, 201, 202)
        settle([p["message"]["id"] for p in posted], timeout=120)
    finally:
        stop_worker(proc)
    text = out.read_text()
    records = json_lines(text)
    assert any(r["job_id"] for r in records), "no line tells its job"
    assert any(r["workspace_id"] == sandbox_connection.workspace_id for r in records if r["job_id"])
    for secret in ("canary-text", "884213", SANDBOX_KEY, FERNET_KEY):
        assert secret not in text, secret


def test_cron_lines_are_json(app, database_url, redis_url, tmp_path):
    out = tmp_path / "cron.log"
    with open(out, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "jobs.rq", "cron", "jobs/cron_config.py", "--url", redis_url],
                                cwd=ROOT, env=_env(app, database_url, redis_url), stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: proc.poll() is not None or out.read_text().strip(), timeout=60, message="rq cron to log")
    finally:
        stop_worker(proc)
    records = json_lines(out.read_text())
    assert records and all(r["logger"].startswith(("rq", "jobs", "webapp")) for r in records)


def test_web_lines_carry_the_request_id_and_mask_credentials(app, api):
    from webapp.core import logs
    stream = io.StringIO()
    capture = logs.handler("json")
    capture.setStream(stream)
    root = logging.getLogger()
    root.addHandler(capture)

    @app.after_request
    def _log_inside(response):  # a line written inside the request, as any view's would be
        logging.getLogger("webapp.test").warning(
            "call with Authorization: Bearer %s and ?code=SECRETCODE1&state=x and %s", api.key, SANDBOX_KEY)
        return response
    try:
        response = api.client.post("/api/v1/messages", json=body(text=CANARY),
                                   headers={"Authorization": f"Bearer {api.key}", "X-Request-ID": "req-abc.123"})
    finally:
        root.removeHandler(capture)
    assert response.status_code in (200, 201, 202)
    assert response.headers["X-Request-ID"] == "req-abc.123"
    records = json_lines(stream.getvalue())
    mine = [r for r in records if r["logger"] == "webapp.test"]
    assert mine and mine[0]["request_id"] == "req-abc.123" and mine[0]["workspace_id"] is not None
    text = stream.getvalue()
    for secret in (api.key, "SECRETCODE1", SANDBOX_KEY, "canary-text"):
        assert secret not in text, secret


def test_a_bad_request_id_is_replaced(app):
    response = app.test_client().get("/healthz", headers={"X-Request-ID": "no spaces; <or> quotes\""})
    assert response.headers["X-Request-ID"] != "no spaces; <or> quotes\""
    assert len(response.headers["X-Request-ID"]) == 32
