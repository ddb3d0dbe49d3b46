"""History import benchmark (`make bench` → `python -m bench.import_bench`). Prints figures; asserts nothing.

Real processes (as bench/sync_bench.py): the Close sandbox with 150 ms latency on every call,
RQ workers, Redis, SQLite or PostgreSQL (BENCH_DATABASE_URL). The history is stored in-process
(phase 1, what the import job does after reading the gateway), then fed to the outbox in slices
by the worker's feed jobs (phase 2), with a trickle of live messages beside it.

Figures: import throughput (messages/s), Close calls per imported message, live message
latency while the import runs. Scale with BENCH_IMPORT_MESSAGES (default 3,000; 600 with BENCH_QUICK=1).
"""
import os
import time
from datetime import UTC, datetime, timedelta

from bench.sync_bench import QUICK, Bench, message, pct

MESSAGES = int(os.environ.get("BENCH_IMPORT_MESSAGES", "600" if QUICK else "3000"))
PER_CHAT = 50
LATENCY_MS = 150
T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


class ListSource:
    def __init__(self, chats):
        self._chats = chats

    def chats(self):
        return [chat for chat, _ in self._chats]

    def messages(self, chat):
        return next(items for c, items in self._chats if c.id == chat.id)


def history_source(count):
    from webapp.history_import.service import HistoryChat
    from webapp.messages.schema import IncomingMessage
    chats = []
    for c in range(max(1, count // PER_CHAT)):
        phone = f"+1415556{c:04d}"
        chat = HistoryChat(id=f"hist-{phone}", phone=phone, name=f"Past {c}")
        items = [IncomingMessage(whatsapp_number="+14155550001", chat={"id": chat.id, "phone": phone, "name": chat.name},
                                 message={"id": f"hist-{c}-{i}", "direction": "incoming",
                                          "sent_at": T0 + timedelta(minutes=i), "text": f"old message {i}"})
                 for i in range(PER_CHAT)]
        chats.append((chat, items))
    return ListSource(chats)


def import_figures(b):
    import requests
    import sqlalchemy as sa

    from webapp.core.extensions import db
    from webapp.history_import import service as history
    from webapp.messages import close_access
    from webapp.models import CloseConnection, Message, WhatsAppNumber
    b.control("PUT", "faults", {"latency_ms": LATENCY_MS})
    number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+14155550001"))
    connection = db.session.scalar(sa.select(CloseConnection))
    source = history_source(MESSAGES)
    client = close_access.client_for_connection(connection)
    t0 = time.monotonic()
    counts = history.plan(number, source, "all", connection, client)
    dry = time.monotonic() - t0
    row = history.create(number, T0, T0 + timedelta(days=1), "all", None, counts)
    _, since = b.sandbox_log()
    t0 = time.monotonic()
    history.store(row, source, connection, client)
    stored = time.monotonic() - t0
    history.start(row)  # state is "feeding": the worker's feed jobs take it from here

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {b.key}"
    live, total = {}, counts["messages"]
    start = time.monotonic()
    while True:
        db.session.rollback()
        done = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
            Message.source == "import", Message.state.in_(("synced", "skipped", "dead"))))
        if done >= total:
            break
        body = message("+14155550101", "live")
        live[body["message"]["id"]] = time.time()
        session.post(f"{b.web_url}/api/v1/messages", json=body, timeout=10)
        time.sleep(1.0)
    elapsed = time.monotonic() - start
    log, _ = b.sandbox_log(since)
    # Every Close call from the store phase on (searches, leads, activities), minus one activity per live message.
    calls = len([r for r in log if r["path"].startswith("/api/v1/")]) - len(live)
    b.wait_synced(sum(b.counts().values()) - b.counts().get("held", 0), timeout=300)
    acts = {a["external_whatsapp_message_id"]: a for a in b.control("GET", "activities")["data"]}
    lat = [datetime.fromisoformat(acts[k]["date_created"]).timestamp() - t for k, t in live.items() if k in acts]
    print(f"Closeline history import bench — {total:,} messages in {len(source.chats())} chats, "
          f"Close latency {LATENCY_MS} ms per call, database {b.db_url.split('://')[0]}")
    print(f"7. Dry run: {dry:.1f} s ({len(source.chats())} chats looked up, nothing written)")
    print(f"8. Import: stored in {stored:.1f} s; synced at {total / elapsed:.1f} messages/s; "
          f"Close calls per message {calls / total:.3f} (a search + a lead per new chat, one activity each)")
    print(f"9. Live messages during the import: {len(lat)} sent 1/s, ingest → Close p50 {pct(lat, 50) * 1000:.0f} ms, "
          f"max {max(lat) * 1000 if lat else float('nan'):.0f} ms")


def main():
    b = Bench()
    try:
        b.start_sandbox()
        b.control("PUT", "rate-limits", {"group": "*", "limit": 100000, "window": 10})
        b.setup_app()
        b.start_web()
        b.start_worker()
        b.start_worker()
        import_figures(b)
    finally:
        b.close()


if __name__ == "__main__":
    main()
