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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def reachable(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


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
    runs = {"sqlite": start("sqlite", ["-q", "--durations=15", *extra])}
    if reachable("127.0.0.1", 5432):
        env = dict(os.environ, TEST_DATABASE_URL=PG_URL)
        # Everything that touches the database, on PostgreSQL (browser and sandbox-only tests once is enough).
        runs["postgresql"] = start("postgresql", ["-q", "--durations=15", "-m", "not browser and not sqlite_only",
                                                  *extra], env)
    else:
        print("PostgreSQL is not reachable on 127.0.0.1:5432: PostgreSQL run skipped.", flush=True)
    codes = {}
    for label, (proc, relay) in runs.items():
        codes[label] = proc.wait()
        relay.join()
    for label, code in codes.items():
        print(f"{label}: {'passed' if code == 0 else f'FAILED (pytest exit code {code})'}", flush=True)
    return next((code for code in codes.values() if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main())
