"""Per-chat reconciliation: compare each linked number's chats on the gateway with what Closeline
holds, and fetch what is missing through the same road as webhooks.

Every chat has a watermark (ChatWatermark): up to that gateway time, everything the gateway lists
for the chat is held by Closeline. Only reconciliation moves it; a webhook never does, because a
newer message arriving says nothing about older ones that were lost. The number itself keeps
`reconciled_until` for the chats that have no watermark of their own (all of them are accounted
for up to there). A run:

1. lists the chats active since the oldest of these marks (minus an overlap for messages a
   gateway stores late with their original time);
2. skips a chat whose last message is not newer than its own watermark (nothing new there);
3. reads the others page by page from their watermark on, oldest first, and hands the messages
   Closeline does not have to `ingest_bridge.submit` (the ingest gate: idempotent on the message
   id, privacy rules applied), moving the chat's watermark after each page;
4. stops once it has handled WHATSAPP_RECONCILE_MAX_MESSAGES messages Closeline did not have, and
   queues its continuation; the chats it did not reach keep their place (`behind`). Messages it
   already holds cost a read but no budget, so every run moves forward.

When it runs: on a schedule (WHATSAPP_RECONCILE_INTERVAL), after a reconnect, after webhook
silence on a number that should be talking (see `silent`), and after a delivery Closeline refused.
All of them go through `request_reconciliation(link, reason)`; one run at a time per number.
"""
import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from webapp.clients.close.lifecycle import record_event
from webapp.clients.gateways.base import GatewayError
from webapp.clients.gateways.formats import phone_jid as canonical_jid
from webapp.core import metrics, row_jobs
from webapp.core.extensions import db
from webapp.core.redis_conn import JobFlag, get_queue, get_redis
from webapp.models import ChatWatermark, Message, NumberLink, utcnow
from webapp.whatsapp import ingest_bridge, messages
from webapp.whatsapp.gateways_service import client_for

log = logging.getLogger(__name__)

RUN_JOB = "jobs.whatsapp.reconcile"
JOB_TIMEOUT = 1800
# One run per number at a time; a request while one waits or works asks for one more run after it.
RUNNING = JobFlag("closeline:whatsapp:reconcile", JOB_TIMEOUT + 60)
AGAIN = "closeline:whatsapp:reconcile-again"
# A burst of refused deliveries asks for one run, not one per delivery.
REFUSED_QUIET = "closeline:whatsapp:reconcile-refused"
REFUSED_SPACING = 60
FIRST_LINK_WINDOW = timedelta(hours=1)   # a fresh link looks back this far, no further
TALKING_WINDOW = timedelta(hours=24)      # a number that had webhooks this recently should be talking
SUBMIT_CHUNK = 200
UNSTORED_KEEP = 500

REASONS = {
    "schedule": "scheduled",
    "reconnect": "after a reconnect",
    "silence": "after webhook silence",
    "refused": "after a delivery Closeline refused",
    "continue": "continuing where the last run stopped",
    "manual": "asked for on the WhatsApp page",
}
NO_HISTORY = ("This gateway keeps no message history (WAHA's NOWEB engine without its store), so "
              "messages its webhooks missed cannot be fetched. Turn the store on for the session "
              "(config.noweb.store.enabled) and link the number again.")


def reason_label(reason):
    return REASONS.get(reason, reason or "")


# -- asking for a run ------------------------------------------------------------------------------------

def request_reconciliation(link, reason):
    """Ask for a reconciliation of one linked number (a NumberLink or its id); `reason` is one of
    REASONS. Never raises. At most one run per number is queued or working: a request meanwhile
    makes it run once more when it ends. Refused deliveries ask at most once a minute."""
    link_id = getattr(link, "id", link)
    try:
        redis = get_redis()
        if reason == "refused" and not redis.set(f"{REFUSED_QUIET}:{link_id}", "1", nx=True, ex=REFUSED_SPACING):
            return False
        if RUNNING.claim(link_id):
            get_queue().enqueue(RUN_JOB, link_id, reason, job_timeout=JOB_TIMEOUT, result_ttl=600,
                                failure_ttl=24 * 3600, description=f"WhatsApp reconciliation of link {link_id}")
            return True
        redis.set(f"{AGAIN}:{link_id}", reason, ex=RUNNING.ttl())
    except Exception:
        log.exception("could not ask for a reconciliation of link %s (the schedule catches up)", link_id)
    return False


def refused_delivery(gateway_id, session_name=None):
    """A delivery from this gateway (this session, when known) was refused: reconcile its numbers."""
    query = sa.select(NumberLink.id).where(NumberLink.gateway_id == gateway_id, NumberLink.state == "linked")
    if session_name is not None:
        query = query.where(NumberLink.session_name == session_name)
    for link_id in db.session.scalars(query).all():
        request_reconciliation(link_id, "refused")


def run(link_id, reason):
    """The job: one run, then the run that was asked for meanwhile (or the continuation)."""
    again = None
    try:
        result = reconcile(link_id, reason)
        if result.get("more"):
            again = "continue"
        return result
    except Exception as exc:
        db.session.rollback()
        _mark_failed(link_id, exc)   # the page must not show a run that died as still working
        db.session.commit()
        raise
    finally:
        RUNNING.drop(link_id)
        asked = get_redis().getdel(f"{AGAIN}:{link_id}")
        again = again or (asked.decode() if asked else None)
        if again:
            request_reconciliation(link_id, again)


def enqueue_due():
    """rq cron tick: every linked number whose scheduled run is due, or that fell silent."""
    now = utcnow()
    interval = timedelta(seconds=current_app.config["WHATSAPP_RECONCILE_INTERVAL"])
    links = db.session.scalars(sa.select(NumberLink).where(NumberLink.state == "linked",
                                                            NumberLink.whatsapp_number_id.is_not(None))).all()
    asked = {}
    for link in links:
        if link.last_recovery_at is None or link.last_recovery_at <= now - interval:
            asked[link.id] = "schedule"
        elif silent(link, now):
            asked[link.id] = "silence"
    for link_id, reason in asked.items():
        request_reconciliation(link_id, reason)
    return asked


def silent(link, now=None):
    """A number should be talking when its webhooks delivered something in the last day; it is
    silent when nothing came for WHATSAPP_SILENCE_AFTER since, and no run has looked since then."""
    now = now or utcnow()
    heard = link.last_webhook_at
    if heard is None or heard < now - TALKING_WINDOW:
        return False
    quiet_since = heard + timedelta(seconds=current_app.config["WHATSAPP_SILENCE_AFTER"])
    return quiet_since <= now and (link.last_recovery_at is None or link.last_recovery_at < quiet_since)


def heard_from(link):
    """Note a processed webhook of this number (written at most once a minute)."""
    now = utcnow()
    if link.last_webhook_at is None or link.last_webhook_at < now - timedelta(seconds=60):
        link.last_webhook_at = now


# -- one run ---------------------------------------------------------------------------------------------------

def _ts(when):
    return when.timestamp()


def _when(ts):
    return datetime.fromtimestamp(ts, tz=UTC)


class _Run:
    """One reconciliation of one link: the budget, the totals and the watermarks it moves."""

    def __init__(self, link, reason):
        self.link, self.reason = link, reason
        self.client = client_for(link.gateway)
        self.me = {"id": link.me_id, "lid": link.me_lid}
        self.started = utcnow()
        config = current_app.config
        self.overlap = timedelta(seconds=config["WHATSAPP_RECONCILE_OVERLAP"])
        self.budget = config["WHATSAPP_RECONCILE_MAX_MESSAGES"]
        # read: messages listed; handled: those Closeline did not have (the work the budget bounds).
        self.totals = {"stored": 0, "duplicates": 0, "held": 0, "chats": 0, "skipped_chats": 0, "read": 0,
                       "handled": 0}
        self.oldest_filled = None
        floor = (link.linked_at or self.started) - FIRST_LINK_WINDOW
        self.number_mark = max(link.reconciled_until or floor, floor)
        self.marks = {m.chat_jid: m for m in db.session.scalars(
            sa.select(ChatWatermark).where(ChatWatermark.link_id == link.id))}

    def listing_since(self):
        behind = [m.reconciled_until for m in self.marks.values() if m.behind and m.reconciled_until]
        return min([self.number_mark, *behind]) - self.overlap

    def chat_since(self, jid):
        mark = self.marks.get(jid)
        return mark.reconciled_until if mark is not None and mark.reconciled_until else self.number_mark

    def needs_reading(self, jid, last):
        mark = self.marks.get(jid)
        if mark is None or mark.behind or last is None or mark.reconciled_until is None:
            return True
        return last > _ts(mark.reconciled_until)

    def mark(self, jid, until, behind):
        row = self.marks.get(jid)
        if row is None:
            row = self.marks[jid] = ChatWatermark(link_id=self.link.id, chat_jid=jid[:200], reconciled_until=until)
            db.session.add(row)
        if until is not None and (row.reconciled_until is None or until > row.reconciled_until or row.behind):
            row.reconciled_until = until
        row.behind, row.checked_at = behind, utcnow()

    def progress(self, done, total):
        self.link.reconcile_progress = {"chats_done": done, "chats_total": total, "stored": self.totals["stored"]}
        db.session.commit()


def reconcile(link_id, reason="manual"):
    """One run for one link. Returns its totals ({"stored", "duplicates", "held", "chats",
    "skipped_chats", "read", "more"}), with "error" when it stopped early, or {"skipped": why}."""
    link = db.session.get(NumberLink, link_id)
    if link is None or link.state != "linked" or link.number is None:
        return {"skipped": "not linked"}
    work = _Run(link, reason)
    link.reconcile_started_at, link.reconcile_reason = work.started, reason
    work.progress(0, 0)
    error, more = None, False
    try:
        chats = work.client.chats_since(link.session_name, _ts(work.listing_since()))
        listing_newest = max([last for _, last in chats if last is not None], default=None)
        todo = [(jid, last) for jid, last in chats if work.needs_reading(jid, last)]
        work.totals["skipped_chats"] = len(chats) - len(todo)
        todo.sort(key=lambda chat: work.chat_since(chat[0]))
        for done, (jid, last) in enumerate(todo):
            if work.totals["handled"] >= work.budget:
                more = True
                for left, _ in todo[done:]:
                    work.mark(left, work.chat_since(left), behind=True)
                break
            _reconcile_chat(work, jid, last)
            work.progress(done + 1, len(todo))
        if listing_newest is not None:
            link.reconciled_until = max(work.number_mark, _when(min(listing_newest, _ts(work.started))))
        elif link.reconciled_until is None:
            link.reconciled_until = work.number_mark
    except GatewayError as exc:
        db.session.rollback()
        error = NO_HISTORY if exc.kind == "no_history" else f"Reconciliation stopped: {exc.message}"
    return _finish(db.session.get(NumberLink, link_id), work, error, more)


def _reconcile_chat(work, jid, last):
    link, since = work.link, work.chat_since(jid)
    try:
        # One chat id form (…@c.us), as webhooks store it, whichever form the gateway lists chats in.
        phone_jid = canonical_jid(messages.resolve_chat(link, work.client, canonical_jid(jid)))
    except messages.Hold as hold:
        _note_unreadable_chat(work, jid, since, str(hold))
        return
    work.totals["chats"] += 1
    work.mark(jid, since, behind=True)
    seen_newest = None
    for page, is_last in work.client.message_pages(link.session_name, jid, _ts(since - work.overlap), work.me):
        _store_missing(work, phone_jid, page)
        if page:
            seen_newest = max(seen_newest or page[-1].sent_at, page[-1].sent_at)
            work.mark(jid, seen_newest, behind=True)
        db.session.commit()
        if not is_last and work.totals["handled"] >= work.budget:
            return  # the chat stays behind; the continuation reads on from its watermark
    until = max([t for t in (seen_newest, _when(min(last, _ts(work.started))) if last else None, since) if t])
    work.mark(jid, until, behind=False)
    db.session.commit()


def _note_unreadable_chat(work, jid, since, why):
    """A chat whose customer's number WhatsApp hides: its messages count as on WhatsApp but not
    stored yet, and the chat stays behind so it is read again once the number is known."""
    work.totals["held"] += 1
    work.mark(jid, since, behind=True)
    try:
        for page, _ in work.client.message_pages(work.link.session_name, jid, _ts(since - work.overlap), work.me):
            for message in page:
                _unstored(work.link, messages.canonical_id(message.from_me, jid, message.short_id),
                          message.sent_at, why)
    except GatewayError:
        pass  # only bookkeeping: the chat is read again on the next run anyway
    db.session.commit()


def _store_missing(work, phone_jid, found):
    link = work.link
    work.totals["read"] += len(found)
    candidates = {messages.canonical_id(m.from_me, phone_jid, m.short_id): m for m in found}
    known = _known(link, list(candidates))
    work.totals["duplicates"] += len(known)
    work.totals["handled"] += len(candidates) - len(known)
    items = []
    for external_id, message in candidates.items():
        if external_id in known:
            continue  # already stored: no media download, no second row
        try:
            item = messages.to_item(link, work.client, message)
        except messages.Hold as hold:
            work.totals["held"] += 1
            _unstored(link, external_id, message.sent_at, str(hold))
            continue
        if item is not None:
            items.append((external_id, message.sent_at, item))
    for start in range(0, len(items), SUBMIT_CHUNK):
        chunk = items[start:start + SUBMIT_CHUNK]
        counts = ingest_bridge.submit(link.workspace_id, link.whatsapp_number_id, [i for _, _, i in chunk],
                                      link.gateway.kind)
        work.totals["stored"] += counts["stored"]
        work.totals["duplicates"] += counts["duplicates"]
        stored_now = _known(link, [external_id for external_id, _, _ in chunk])
        for external_id, sent_at, _ in chunk:
            if external_id in stored_now:
                if work.oldest_filled is None or sent_at < work.oldest_filled:
                    work.oldest_filled = sent_at
            else:
                _unstored(link, external_id, sent_at, "Closeline could not read this message from the gateway")


def _known(link, external_ids):
    if not external_ids:
        return set()
    return set(db.session.scalars(sa.select(Message.external_id).where(
        Message.workspace_id == link.workspace_id, Message.external_id.in_(external_ids))))


def _unstored(link, external_id, sent_at, why):
    entries = dict(link.unstored or {})
    entries[external_id] = {"at": sent_at.isoformat(), "reason": why[:200]}
    if len(entries) > UNSTORED_KEEP:
        entries = dict(sorted(entries.items(), key=lambda kv: kv[1]["at"])[-UNSTORED_KEEP:])
    link.unstored = entries


def _finish(link, work, error, more):
    totals = {**work.totals, "more": more}
    link.reconcile_started_at = None
    link.last_recovery_at, link.last_recovery_error = utcnow(), error
    link.recovered_count += totals["stored"]
    link.reconcile_progress = {**(link.reconcile_progress or {}), "stored": totals["stored"],
                               "chats": totals["chats"], "reason": work.reason}
    _prune_unstored(link)
    metrics.count("gap_messages_found", totals["stored"] + totals.get("held", 0))
    metrics.count("gap_messages_filled", totals["stored"])
    if totals["stored"]:
        record_event(db.session, link.workspace_id, "whatsapp_gap_filled", _gap_text(link, work, totals))
        log.info("link %s: %d missed WhatsApp messages fetched", link.id, totals["stored"])
    db.session.commit()
    if error:
        totals["error"] = error
    return totals


def _gap_text(link, work, totals):
    oldest = f", the oldest from {work.oldest_filled:%Y-%m-%d %H:%M} UTC" if work.oldest_filled else ""
    return (f"{link.number.e164}: {totals['stored']} message(s) the webhooks had missed were fetched from "
            f"{link.gateway.name} ({reason_label(work.reason)}){oldest}.")


def _prune_unstored(link):
    """Forget entries older than a day, and those that have been stored since."""
    entries = dict(link.unstored or {})
    cutoff = (utcnow() - TALKING_WINDOW).isoformat()
    entries = {k: v for k, v in entries.items() if v.get("at", "") >= cutoff}
    stored = _known(link, list(entries))
    link.unstored = {k: v for k, v in entries.items() if k not in stored}


# -- what the pages show -------------------------------------------------------------------------------------

ACCOUNTED_STATES = ("synced", "skipped", "held", "failed", "dead")


def accounted(link, now=None):
    """Last 24 h of a linked number: {"on_whatsapp": messages Closeline knows the number has (stored,
    plus those the gateway showed that could not be stored yet), "accounted": those synced or
    visible in the log with a reason, "percent"}. "Known" is as of the last reconciliation."""
    if link.whatsapp_number_id is None:
        return None
    since = (now or utcnow()) - TALKING_WINDOW
    counts = dict(db.session.execute(
        sa.select(Message.state, sa.func.count()).where(Message.whatsapp_number_id == link.whatsapp_number_id,
                                                        Message.sent_at >= since)
        .group_by(Message.state)).all())
    stored = sum(counts.values())
    unstored = sum(1 for entry in (link.unstored or {}).values() if entry.get("at", "") >= since.isoformat())
    on_whatsapp = stored + unstored
    done = sum(counts.get(state, 0) for state in ACCOUNTED_STATES)
    return {"on_whatsapp": on_whatsapp, "accounted": done,
            "percent": 100 if on_whatsapp == 0 else int(100 * done / on_whatsapp)}


def reconcile_all_now():
    """Every linked number, each on its own, in this process (the CLI and the bench)."""
    ids = db.session.scalars(sa.select(NumberLink.id).where(NumberLink.state == "linked")).all()
    results = {}
    row_jobs.for_each(ids, lambda link_id: results.__setitem__(link_id, reconcile(link_id, "manual")),
                      "reconciliation of link", _mark_failed)
    return results


def _mark_failed(link_id, exc):
    link = db.session.get(NumberLink, link_id)
    if link is not None:
        link.last_recovery_error, link.last_recovery_at = row_jobs.reason(exc), utcnow()
        link.reconcile_started_at = None
