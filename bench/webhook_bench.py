"""WhatsApp gateway benchmark (`make bench` → `python -m bench.webhook_bench`). Prints figures; asserts nothing.

Real processes: the Close sandbox, the WhatsApp sandbox (its WAHA façade), Closeline under gunicorn,
an RQ worker, Redis and SQLite/PostgreSQL as in bench/sync_bench.py (same environment variables).

Figures:
  1. webhook ack p50/p99 at 100 messages/s (signed WAHA `message.any` deliveries; target p99 < 50 ms)
  2. reconciliation of 1,000 messages missed while webhooks were dropped: time to fetch and store them,
     time until all are in Close, and Close calls per message
Scale down with BENCH_QUICK=1.
"""
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.sync_bench import QUICK, Bench, free_port, pct, phones, wait_http

RATE = 100                      # webhook deliveries per second
ACK_SECONDS = 5 if QUICK else 20
MISSED = 300 if QUICK else 1000
MEMBER = "+14155550003"


class WhatsAppBench(Bench):
    def __init__(self):
        super().__init__()
        self.wa_port = free_port()
        self.wa_url = f"http://127.0.0.1:{self.wa_port}"
        # A queue of its own: other benches may share the Redis server.
        extra = {"PUBLIC_URL": self.web_url, "WHATSAPP_HEALTH_INTERVAL": "3600", "WHATSAPP_RECONCILE_INTERVAL": "3600",
                 "GATEWAY_ALLOWED_HOSTS": f"127.0.0.1:{self.wa_port}",
                 "RQ_QUEUE": f"closeline-wabench-{os.getpid()}"}
        self.env.update(extra)
        os.environ.update(extra)

    def start_worker(self):
        return self.spawn([sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--url", self.redis_url,
                           "--logging_level", "ERROR", "--worker-class", "jobs.worker.PreloadedWorker",
                           self.env["RQ_QUEUE"]])

    def start_whatsapp_sandbox(self):
        self.spawn([sys.executable, "-m", "whatsapp_sandbox"], WHATSAPP_SANDBOX_PORT=str(self.wa_port),
                   WHATSAPP_SANDBOX_LOG_REQUESTS="0", WHATSAPP_SANDBOX_WAHA_STARTING_SECONDS="0.2",
                   WHATSAPP_SANDBOX_WEBHOOK_DELAY_SCALE="0.01")
        wait_http(self.wa_url + "/waha/ping")

    def wa_control(self, method, path, json_body=None):
        response = requests.request(method, f"{self.wa_url}/_sandbox/{path}", json=json_body, timeout=60)
        response.raise_for_status()
        return response.json() if response.content else None

    def link_member(self):
        """Mia links her WhatsApp through the sandbox gateway (QR scanned via the control API)."""
        import sqlalchemy as sa

        from webapp.core.extensions import db
        from webapp.models import Membership, NumberLink, User
        from webapp.whatsapp import gateways_service, linking
        gateway = gateways_service.add_gateway(self.acme.id, name="bench", base_url=f"{self.wa_url}/waha",
                                               api_key="waha-sandbox-key")
        member = db.session.scalar(sa.select(Membership).join(User).where(User.email == "member@acme.test"))
        link = linking.start_link(gateway, member)
        deadline = time.monotonic() + 60
        while linking.refresh(link).state != "qr":
            assert time.monotonic() < deadline, "no QR code"
            time.sleep(0.2)
        session = [s for s in self.wa_control("GET", "state")["waha"]["sessions"] if s["name"] == link.session_name][0]
        self.wa_control("POST", "scan", {"number": MEMBER, "qr": session["qr"]})
        while True:
            db.session.expire_all()
            link = db.session.get(NumberLink, link.id)
            if link.state == "linked":
                break
            if time.monotonic() > deadline:
                print(self.wa_control("GET", "webhooks")["data"][-3:])
                raise RuntimeError(f"not linked: {link.state} {link.last_error}")
            time.sleep(0.2)
        from webapp.core import crypto
        self.link_id, self.gateway_id = link.id, gateway.id
        self.hmac_key, self.session = crypto.decrypt(link.hmac_key_enc), link.session_name
        return link


def signed(b, n, customer):
    chat = customer.lstrip("+") + "@c.us"
    body = {"id": f"evt_bench{n:020d}", "timestamp": int(time.time() * 1000), "event": "message.any",
            "session": b.session, "me": {"id": MEMBER.lstrip("+") + "@c.us"}, "engine": "WEBJS",
            "payload": {"id": f"false_{chat}_BENCH{n:012d}", "timestamp": int(time.time()), "from": chat,
                        "fromMe": False, "source": "app", "body": f"Benchmark message {n}", "hasMedia": False,
                        "media": None, "ack": 1, "vCards": [], "replyTo": None}}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, {"Content-Type": "application/json", "X-Webhook-Hmac-Algorithm": "sha512",
                 "X-Webhook-Hmac": hmac.new(b.hmac_key.encode(), raw, hashlib.sha512).hexdigest()}


def webhook_ack(b, customers):
    url = f"{b.web_url}/api/webhooks/waha/{b.gateway_id}"
    total = RATE * ACK_SECONDS
    deliveries = [signed(b, n, customers[n % len(customers)]) for n in range(total)]
    local = threading.local()
    times, statuses = [], []

    def post(item):
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        response = session.post(url, data=item[0], headers=item[1], timeout=30)
        times.append(time.perf_counter() - started)
        statuses.append(response.status_code)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for n, item in enumerate(deliveries):
            delay = start + n / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, item)
        sent_rate = total / (time.perf_counter() - start)
    ok = statuses.count(200)
    print(f"1. webhook ack at {RATE} msg/s ({total} signed deliveries, {sent_rate:.0f}/s sent, {ok} answered 200): "
          f"p50 {pct(times, 50) * 1000:.1f} ms, p99 {pct(times, 99) * 1000:.1f} ms (target p99 < 50 ms)")
    b.wait_synced(total, timeout=900)


def gap_recovery(b, customers, already):
    b.wa_control("PUT", "webhooks/faults", {"drop": True})
    for n in range(MISSED):
        b.wa_control("POST", "messages", {"from": customers[n % len(customers)], "to": MEMBER,
                                          "text": f"Missed while Closeline was away {n}"})
    time.sleep(1)
    b.wa_control("DELETE", "webhooks/faults")
    _, since = b.sandbox_log()
    from webapp.core.extensions import db
    from webapp.core.redis_conn import get_queue
    from webapp.models import NumberLink
    started = time.perf_counter()
    get_queue().enqueue("jobs.whatsapp.reconcile", b.link_id, "reconnect", job_timeout=1800)
    stored_at = None
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        counts = b.counts()
        if stored_at is None and sum(counts.values()) >= already + MISSED:
            stored_at = time.perf_counter() - started
        if counts.get("synced", 0) + counts.get("skipped", 0) >= already + MISSED:
            break
        time.sleep(0.5)
    synced_at = time.perf_counter() - started
    log, _ = b.sandbox_log(since)
    calls = len([r for r in log if r["path"].startswith("/api/v1/")])
    db.session.expire_all()
    recovered = db.session.get(NumberLink, b.link_id).recovered_count
    print(f"2. gap recovery of {MISSED} missed messages ({len(customers)} chats): fetched and stored in "
          f"{(stored_at or synced_at):.1f} s, all in Close after {synced_at:.1f} s; {recovered} counted as recovered; "
          f"Close calls per message {calls / MISSED:.3f}")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    b = WhatsAppBench()
    try:
        b.start_sandbox()
        b.control("PUT", "rate-limits", {"group": "*", "limit": 100000, "window": 10})
        b.start_whatsapp_sandbox()
        b.setup_app()
        b.start_web()
        b.start_worker()
        print(f"Closeline WhatsApp gateway bench — database {b.db_url.split('://')[0]}, Redis {b.redis_url}")
        b.link_member()
        customers = phones(20, start=3000)
        webhook_ack(b, customers)
        gap_recovery(b, customers, RATE * ACK_SECONDS)
    finally:
        b.close()


if __name__ == "__main__":
    main()
