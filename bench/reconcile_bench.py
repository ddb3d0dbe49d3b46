"""Reconciliation benchmark (`make bench` → `python -m bench.reconcile_bench`). Prints figures; asserts nothing.

What one reconciliation run of one linked number costs — gateway calls and milliseconds — when the
number has 50 chats, on WAHA and on Evolution API (the WhatsApp sandbox in its own process, real
HTTP; Closeline's reconciliation in this process against SQLite/PostgreSQL and Redis as in
bench/sync_bench.py). Webhooks are dropped throughout, so everything arrives by reconciliation:

  a. first run: 50 chats × 4 messages the webhooks never delivered (everything fetched and stored)
  b. quiet run: nothing new on the gateway (the steady state of a number every 5 minutes)
  c. gap run: one new message in each of the 50 chats whose delivery was dropped
Scale down with BENCH_QUICK=1 (20 chats).
"""
import os
import signal
import sys
import time

import requests

from bench.sync_bench import QUICK, Bench, free_port, phones, wait_http

CHATS = 20 if QUICK else 50
PER_CHAT = 4
MEMBER = "+14155550003"


class ReconcileBench(Bench):
    def __init__(self):
        super().__init__()
        self.wa_port = free_port()
        self.wa_url = f"http://127.0.0.1:{self.wa_port}"
        extra = {"PUBLIC_URL": self.web_url, "RQ_QUEUE": f"closeline-recbench-{os.getpid()}",
                 "GATEWAY_ALLOWED_HOSTS": f"127.0.0.1:{self.wa_port}"}
        self.env.update(extra)
        os.environ.update(extra)

    def start_whatsapp_sandbox(self):
        self.spawn([sys.executable, "-m", "whatsapp_sandbox"], WHATSAPP_SANDBOX_PORT=str(self.wa_port),
                   WHATSAPP_SANDBOX_LOG_REQUESTS="0", WHATSAPP_SANDBOX_WAHA_STARTING_SECONDS="0.2",
                   WHATSAPP_SANDBOX_EVOLUTION_CONNECT_SECONDS="0.1", WHATSAPP_SANDBOX_WEBHOOK_DELAY_SCALE="0.01")
        wait_http(self.wa_url + "/waha/ping")

    def wa(self, method, path, json_body=None):
        response = requests.request(method, f"{self.wa_url}/_sandbox/{path}", json=json_body, timeout=120)
        response.raise_for_status()
        return response.json() if response.content else None

    def gateway_calls(self, facade, since):
        data = self.wa("GET", f"requests?since={since}&facade={facade}")
        return data["data"], data["next_index"]

    def link(self, kind):
        """Mia's number linked through the sandbox's `kind` façade (QR scanned via the control API)."""
        import sqlalchemy as sa

        from webapp.core.extensions import db
        from webapp.models import Membership, NumberLink, User
        from webapp.whatsapp import gateways_service, linking
        key = "waha-sandbox-key" if kind == "waha" else "evolution-sandbox-key"
        gateway = gateways_service.add_gateway(self.acme.id, name=f"bench {kind}", base_url=f"{self.wa_url}/{kind}",
                                               api_key=key, kind=kind)
        member = db.session.scalar(sa.select(Membership).join(User).where(User.email == "member@acme.test"))
        link = linking.start_link(gateway, member)
        deadline = time.monotonic() + 60
        while linking.refresh(link).state != "qr":
            assert time.monotonic() < deadline, "no QR code"
            time.sleep(0.2)
        state = self.wa("GET", "state")
        accounts = state["waha"]["sessions"] if kind == "waha" else state["evolution"]["instances"]
        qr = next(a["qr"] for a in accounts if a["name"] == link.session_name)
        self.wa("POST", "scan", {"number": MEMBER, "qr": qr})
        while linking.refresh(link).state != "linked":
            assert time.monotonic() < deadline, f"not linked: {link.state} {link.last_error}"
            time.sleep(0.2)
        return db.session.get(NumberLink, link.id)

    def unlink(self, link):
        from webapp.whatsapp import linking
        linking.unlink(link)


def one_run(b, link, facade, label):
    from webapp.whatsapp import reconcile
    _, since = b.gateway_calls(facade, 0)
    started = time.perf_counter()
    result = reconcile.reconcile(link.id, "schedule")
    ms = (time.perf_counter() - started) * 1000
    calls, _ = b.gateway_calls(facade, since)
    listing = [c for c in calls if "chats/overview" in c["path"] or "findChats" in c["path"]]
    print(f"   {label}: {len(calls)} gateway calls ({len(listing)} chat listing, {len(calls) - len(listing)} "
          f"message pages), {ms:.0f} ms; {result.get('chats', 0)} chats read, {result.get('skipped_chats', 0)} "
          f"skipped, {result.get('stored', 0)} stored{' — ' + result['error'] if result.get('error') else ''}")
    return len(calls), ms


def bench_kind(b, kind, customers):
    b.wa("PUT", "webhooks/faults", {"drop": True})
    link = b.link(kind)
    ago = int(time.time()) - 1800
    b.wa("POST", "messages/batch", {"messages": [
        {"from": c, "to": MEMBER, "text": f"Earlier message {n}", "timestamp": ago + n}
        for n in range(PER_CHAT) for c in customers]})
    print(f"{'WAHA' if kind == 'waha' else 'Evolution API'} — one number, {len(customers)} chats:")
    figures = [one_run(b, link, kind, f"a. first run ({len(customers) * PER_CHAT} messages missing)")]
    figures.append(one_run(b, link, kind, "b. quiet run (nothing new)"))
    b.wa("POST", "messages/batch", {"messages": [{"from": c, "to": MEMBER, "text": "A newer message"}
                                                 for c in customers]})
    figures.append(one_run(b, link, kind, f"c. gap run (1 dropped delivery in each of {len(customers)} chats)"))
    b.unlink(link)
    b.wa("POST", "reset")
    return figures


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    b = ReconcileBench()
    try:
        b.start_whatsapp_sandbox()
        b.setup_app()
        print(f"Closeline reconciliation bench — database {b.db_url.split('://')[0]}, Redis {b.redis_url}")
        customers = phones(CHATS, start=3000)
        for kind in ("waha", "evolution"):
            bench_kind(b, kind, customers)
    finally:
        b.close()


if __name__ == "__main__":
    main()
