"""`make test`: the whole suite on SQLite + real Redis and, when reachable, again on PostgreSQL.

The two runs go side by side (each has its own Redis server and database, see tests/conftest.py):
most tests wait on sandboxes and workers, so two runs share the 2 cores well. Each run's lines are
printed as they come, prefixed with its database. Exits non-zero when a test fails or when no test
ran (pytest's exit code 5)."""
import os
import socket
import subprocess
import sys
import threading
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PG_DATABASE_URL = os.environ.get("DATABASE_URL", "") if os.environ.get("DATABASE_URL", "").startswith("postgres") else ""
PG_URL = os.environ.get("PG_TEST_URL") or _PG_DATABASE_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# PostgreSQL is expected in CI and wherever someone pointed the suite at one: there, an unreachable
# server fails the run instead of quietly testing SQLite alone.
PG_EXPECTED = bool(os.environ.get("CI") or os.environ.get("PG_TEST_URL") or _PG_DATABASE_URL)


def reachable(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _host_and_port(url):
    parsed = urlsplit(url.replace("+psycopg", ""))
    return parsed.hostname or "127.0.0.1", parsed.port or 5432


def start(label, args, env=None):
    cmd = [sys.executable, "-m", "pytest", *args]
    print(f"[{label}] + {' '.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    relay = threading.Thread(target=_relay, args=(label, proc.stdout), daemon=True)
    relay.start()
    return proc, relay


def _relay(label, stream):
    for line in stream:
        print(f"[{label}] {line}", end="", flush=True)


def main():
    extra = sys.argv[1:]
    pg_host, pg_port = _host_and_port(PG_URL)
    pg_up = reachable(pg_host, pg_port)
    if PG_EXPECTED and not pg_up:
        print(f"PostgreSQL is expected (CI, PG_TEST_URL or DATABASE_URL is set) but nothing answers on "
              f"{pg_host}:{pg_port}. Start PostgreSQL or point PG_TEST_URL at one; no test was run.", flush=True)
        return 2
    runs = {"sqlite": start("sqlite", ["-q", "--durations=15", *extra])}
    if pg_up:
        env = dict(os.environ, TEST_DATABASE_URL=PG_URL)
        # Everything that touches the database, on PostgreSQL (browser and sandbox-only tests once is enough).
        runs["postgresql"] = start("postgresql", ["-q", "--durations=15", "-m", "not browser and not sqlite_only",
                                                  *extra], env)
    else:
        print(f"*** PostgreSQL is not reachable on {pg_host}:{pg_port}: the PostgreSQL run is SKIPPED and this "
              "run tested SQLite only. ***", flush=True)
    codes = {}
    for label, (proc, relay) in runs.items():
        codes[label] = proc.wait()
        relay.join()
    for label, code in codes.items():
        print(f"{label}: {'passed' if code == 0 else f'FAILED (pytest exit code {code})'}", flush=True)
    return next((code for code in codes.values() if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main())
