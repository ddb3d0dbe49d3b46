"""`make test`: the whole suite on SQLite + real Redis, then again on PostgreSQL when reachable.

Exits non-zero when a test fails or when no test ran (pytest's exit code 5)."""
import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def reachable(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def pytest(args, env=None):
    cmd = [sys.executable, "-m", "pytest", *args]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


def main():
    extra = sys.argv[1:]
    code = pytest(["-q", "--durations=15", *extra])
    if code != 0:
        return code
    if reachable("127.0.0.1", 5432):
        env = dict(os.environ, TEST_DATABASE_URL=PG_URL)
        # Everything that touches the database, on PostgreSQL (browser and bench-style runs once is enough).
        code = pytest(["-q", "--durations=15", "-m", "not browser and not sqlite_only", *extra], env)
    else:
        print("PostgreSQL is not reachable on 127.0.0.1:5432: PostgreSQL run skipped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
