"""`make run`'s launcher on a fresh instance folder: migrations, demo seed, embedded Redis, all
processes up, the sign-in page served, and a clean stop on Ctrl-C.

No short timeouts: on a busy machine (a second suite beside this one) the first page may take
a while; each request may wait a minute and the stack gets several minutes to come up."""
import os
import signal
import subprocess
import sys

import pytest
import requests

from tests.helpers.paths import ROOT
from tests.helpers.servers import free_port
from tests.helpers.waiting import wait_for

STARTUP = 300     # seconds the whole stack may take to serve its first page
REQUEST = 60      # seconds one request may take

pytestmark = pytest.mark.sqlite_only


def _sign_in_page(url, proc, log):
    assert proc.poll() is None, _tail(log)
    try:
        page = requests.get(url, timeout=REQUEST)
    except requests.RequestException:  # not listening yet, or still busy starting
        return None
    return page if page.status_code == 200 else None


def _pong(url):
    try:
        return requests.get(url, timeout=REQUEST).json() == {"message": "pong"}
    except (requests.RequestException, ValueError):  # not listening yet
        return False


@pytest.mark.timeout(STARTUP + 240)
def test_devstack_serves_sign_in_page(tmp_path):
    web, sandbox, whatsapp = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "DATABASE_URL", "SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "TEST_DATABASE_URL"}}
    env.update(CLOSELINE_INSTANCE_DIR=str(tmp_path / "instance"), WEB_PORT=str(web), SANDBOX_PORT=str(sandbox),
               WHATSAPP_SANDBOX_PORT=str(whatsapp))
    log = open(tmp_path / "devstack.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "scripts.devstack"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        page = wait_for(lambda: _sign_in_page(f"http://127.0.0.1:{web}/auth/login", proc, log),
                        timeout=STARTUP, interval=0.5, message="the sign-in page")
        assert "Sign in to Closeline" in page.text
        assert requests.get(f"http://127.0.0.1:{sandbox}/oauth2/authorize/", timeout=REQUEST).status_code in (200, 400)
        # The demo data was seeded: the demo owner can sign in.
        session = requests.Session()
        form = session.get(f"http://127.0.0.1:{web}/auth/login", timeout=REQUEST).text
        token = form.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        signed_in = session.post(f"http://127.0.0.1:{web}/auth/login",
                                 data={"email": "owner@acme.test", "password": "closeline-demo", "csrf_token": token},
                                 timeout=REQUEST)
        assert "Acme Inc" in signed_in.text
        # TRUSTED_PROXIES is 0: a forwarded "https" from the loopback client is not believed (no HSTS).
        forwarded = requests.get(f"http://127.0.0.1:{web}/auth/login", headers={"X-Forwarded-Proto": "https"},
                                 timeout=REQUEST)
        assert "Strict-Transport-Security" not in forwarded.headers
        assert (tmp_path / "instance" / "fernet.key").exists()
        # The WhatsApp sandbox runs and a WAHA gateway pointing at it was seeded.
        page = session.get(f"http://127.0.0.1:{web}/whatsapp/", timeout=REQUEST).text
        assert "WhatsApp sandbox (WAHA)" in page and "WhatsApp sandbox (Evolution API)" in page
        assert "100000000000002" in page  # the Cloud API number, with its Graph token
        assert wait_for(lambda: _pong(f"http://127.0.0.1:{whatsapp}/waha/ping"), timeout=STARTUP, interval=0.5,
                        message="the WhatsApp sandbox")
        state = requests.get(f"http://127.0.0.1:{whatsapp}/_sandbox/state", timeout=REQUEST).json()
        assert [n["phone_number_id"] for n in state["graph"]["numbers"]] == ["100000000000002"]
        # Access logs carry paths only: OAuth codes and verify tokens travel in query strings.
        requests.get(f"http://127.0.0.1:{web}/integrations/close/callback?code=SECRETCODE&state=x", timeout=REQUEST)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = _tail(log)
    assert "worker" in output and "cron" in output
    assert "/integrations/close/callback" in output and "SECRETCODE" not in output


def _tail(log):
    log.flush()
    log.seek(0)
    return log.read()[-4000:]
