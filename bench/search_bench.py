"""Log text search at scale, on its own (`python -m bench.search_bench`): fills the message log to
BENCH_LOG_ROWS (default 1,000,000; BENCH_QUICK=1: 100,000) and prints the p50/p95 of the sync
log's search through the app (test client, a member signed in) for a rare phrase, a common word,
a message id and a 2-character query (no trigram: the ILIKE fallback). SQLite in a temp dir, or
BENCH_DATABASE_URL (PostgreSQL). Needs no Close sandbox, Redis or workers."""
import os
import re
import tempfile
import time

import sqlalchemy as sa

from bench.stats import pct

QUICK = os.environ.get("BENCH_QUICK") == "1"
ROWS = int(os.environ.get("BENCH_LOG_ROWS", "100000" if QUICK else "1000000"))
QUERIES = [("rare phrase", "brown fox 99"), ("common word", "ORDER"), ("message id", "bulk-4242"),
           ("no match", "zebra crossing"), ("2 characters (scan)", "zq")]
RUNS = 20
FERNET = "l5Ohc7e6B9G0N8x0q3lJ2hS9iTqY4c2sVqf7mFZt0ZQ="  # a throwaway key: the bench stores no tokens


def main():
    tmp = tempfile.mkdtemp(prefix="closeline-search-")
    os.environ.setdefault("DATABASE_URL", os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp}/search.db")
    os.environ.setdefault("SECRET_KEY", "bench-secret")
    os.environ.setdefault("TOKEN_ENCRYPTION_KEY", FERNET)
    os.environ.setdefault("CLOSELINE_INSTANCE_DIR", tmp)
    from bench.bulk_log import fill
    from webapp import create_app
    from webapp.cli import seed_demo_data
    from webapp.core.extensions import db
    from webapp.models import Message, Workspace
    app = create_app("development", {"RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_demo_data()
        acme = db.session.scalar(sa.select(Workspace).where(Workspace.name == "Acme Inc"))
        started = time.monotonic()
        fill(acme.id, ROWS)
        filled = time.monotonic() - started
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
        client = app.test_client()
        page = client.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        client.post("/auth/login", data={"email": "member@acme.test", "password": "closeline-demo",
                                         "csrf_token": token})
        print(f"Log search with {total:,} messages ({db.engine.dialect.name}; filled in {filled:.0f} s):")
        for label, q in QUERIES:
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                response = client.get("/sync/log", query_string={"q": q})
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200
            direct = _query_times(acme.id, q)
            print(f"     {label:22s} {q!r:18s} page p50 {pct(times, 50) * 1000:7.1f} ms  p95 "
                  f"{pct(times, 95) * 1000:7.1f} ms | query function p50 {pct(direct, 50) * 1000:7.1f} ms  "
                  f"p95 {pct(direct, 95) * 1000:7.1f} ms")


def _query_times(workspace_id, q):
    """search.matching_ids alone, as the log calls it (first page): the index's share of the page."""
    from webapp.core.extensions import db
    from webapp.messages import search
    from webapp.models import Message
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        search.matching_ids(sa.select(Message).where(Message.workspace_id == workspace_id), workspace_id, q, 51)
        times.append(time.perf_counter() - t0)
        db.session.rollback()
    return times


if __name__ == "__main__":
    main()
