"""Privacy rules of a workspace: exclusions, allow-list mode, redaction settings.

ingest.accept() reads the rules once per batch (`rules_for()`) and asks `decide()` once per message:
excluded chats are stored without any content
(only that a message was excluded); everything else has its text redacted before it is stored,
so the original never reaches the database nor Close. Routing asks `allow_list_only()`.
Chat labels are the hook for gateways that expose them (WAHA/Evolution labels → chat.labels).
"""
from dataclasses import dataclass, field

import sqlalchemy as sa

from webapp.core.extensions import db
from webapp.core.phones import InvalidPhone, to_e164_in_regions
from webapp.messages import redaction
from webapp.messages.totals import invalidate_totals
from webapp.models import Chat, ExclusionEntry, Message, PrivacySettings, utcnow

EXCLUDED_CHAT = "Excluded chat (never sync): message content not stored."
EXCLUDED_PHONE = "Phone on the workspace exclusion list: message content not stored."
EXCLUDED_LABEL = "Chat label on the workspace exclusion list: message content not stored."
EXCLUDED_FORMER_MEMBER = "The member of this number was removed from the workspace: message content not stored."
EXCLUDED_REASONS = (EXCLUDED_CHAT, EXCLUDED_PHONE, EXCLUDED_LABEL, EXCLUDED_FORMER_MEMBER)
UNSENT_STATES = ("received", "queued", "held", "failed")


class PrivacyError(ValueError):
    """A privacy change that can't be made (shown to the user as is)."""


@dataclass
class Decision:
    excluded_reason: str = ""          # non-empty: store nothing of the message
    text: str = ""
    redactions: dict = field(default_factory=dict)


def settings_for(workspace_id):
    """The workspace's settings row, or an unsaved one holding the defaults."""
    row = db.session.get(PrivacySettings, workspace_id)
    return row or PrivacySettings(workspace_id=workspace_id, allow_list_only=False, redact_codes=True,
                                  redact_cards=True, members_see_all_messages=False, retention_days=None)


def visible_number_ids(membership):
    """Whose messages this person may read: None for everyone's (owner/admin, or members once the
    owner opened the whole log), else the ids of their own numbers."""
    if membership.is_manager or settings_for(membership.workspace_id).members_see_all_messages:
        return None
    return [number.id for number in membership.numbers]


def allow_list_only(workspace_id):
    return bool(settings_for(workspace_id).allow_list_only)


@dataclass(frozen=True)
class Rules:
    """A workspace's privacy rules, read once for a whole batch of incoming messages."""
    settings: PrivacySettings
    entries: frozenset


def rules_for(workspace_id):
    return Rules(settings_for(workspace_id), frozenset(_entries(workspace_id)))


def decide(rules, chat, remote_phone, labels, text):
    """What ingest stores for one message of `chat` (the Chat row, possibly just created)."""
    reason = _excluded_by(rules.entries, chat, remote_phone, labels)
    if reason:
        return Decision(excluded_reason=reason)
    clean, counts = _redact(rules, text)
    return Decision(text=clean, redactions=counts)


def clean_edit(message, text):
    """An edit made on WhatsApp, through the same rules as a new message: None for a message of an
    excluded chat (its text is never stored), else (redacted text, redaction counts)."""
    chat, rules = message.chat, rules_for(message.workspace_id)
    if message.reason in EXCLUDED_REASONS or _excluded_by(rules.entries, chat, chat.remote_phone, ()):
        return None
    return _redact(rules, text)


def screen_inbound(rules, chat, remote_phone, text):
    """What a webhook inbox may keep of a message before ingest sees it: None when its chat or
    phone is excluded (keep no content at all), else the redacted text. The same rules ingest
    applies, so raw text never rests anywhere, not even for the seconds before processing."""
    if _excluded_by(rules.entries, chat, remote_phone, ()):
        return None
    return _redact(rules, text)[0]


def redact_name(rules, name):
    """A file name goes through the same redaction as text (a card number can be a file name)."""
    return _redact(rules, name)[0] if name else name


def _redact(rules, text):
    return redaction.redact(text, codes=rules.settings.redact_codes, cards=rules.settings.redact_cards)


def exclusion_reason(workspace_id, chat, remote_phone, labels=()):
    return _excluded_by(_entries(workspace_id), chat, remote_phone, labels)


def _excluded_by(entries, chat, remote_phone, labels):
    if chat is not None and chat.excluded_at is not None:
        return EXCLUDED_CHAT
    if chat is not None and chat.number is not None and chat.number.stopped_at is not None:
        return EXCLUDED_FORMER_MEMBER
    if remote_phone and ("phone", remote_phone) in entries:
        return EXCLUDED_PHONE
    if any(("label", label.strip().lower()) in entries for label in labels or ()):
        return EXCLUDED_LABEL
    return ""


def _entries(workspace_id):
    rows = db.session.execute(sa.select(ExclusionEntry.kind, ExclusionEntry.value)
                              .where(ExclusionEntry.workspace_id == workspace_id)).all()
    return {(kind, value) for kind, value in rows}


# -- changes (each commits) ---------------------------------------------------------------------------

def can_exclude(membership, chat):
    """The member who owns the chat's number, or an owner/admin."""
    return membership.is_manager or (chat.number is not None and chat.number.membership_id == membership.id)


def exclude_chat(membership, chat):
    """Never sync this chat again; its unsent messages lose their content and are skipped, and
    Closeline erases its own copy of the ones already synced (Close keeps its copy).
    Returns how many unsent messages were emptied."""
    if not can_exclude(membership, chat):
        raise PrivacyError("Only the member whose number this chat is on, or an owner/admin, can exclude it.")
    if chat.excluded_at is None:
        chat.excluded_at = utcnow()
        chat.excluded_by_id = membership.user_id
    count = scrub_unsent(chat.workspace_id, [chat.id], EXCLUDED_CHAT)
    erase_content(chat.workspace_id, [chat.id])
    db.session.commit()
    return count


def erase_content(workspace_id, chat_ids):
    """Every message of these chats keeps its ids, state and Close activity id (so nothing is ever
    synced twice) and loses its text, files and sender. Returns how many rows changed."""
    if not chat_ids:
        return 0
    return db.session.execute(
        sa.update(Message).where(Message.workspace_id == workspace_id, Message.chat_id.in_(chat_ids))
        .values(text="", attachments=[], sender_name="", sender_phone=None, redactions={}, updated_at=utcnow())
    ).rowcount


def include_chat(membership, chat):
    """Undo "never sync": new messages sync again (the emptied ones stay empty)."""
    if not can_exclude(membership, chat):
        raise PrivacyError("Only the member whose number this chat is on, or an owner/admin, can change this.")
    chat.excluded_at = None
    chat.excluded_by_id = None
    db.session.commit()


def scrub_unsent(workspace_id, chat_ids, reason):
    """Unsent messages of these chats: content wiped, skipped with the reason."""
    if not chat_ids:
        return 0
    count = db.session.execute(
        sa.update(Message).where(Message.workspace_id == workspace_id, Message.chat_id.in_(chat_ids),
                                 Message.state.in_(UNSENT_STATES))
        .values(text="", attachments=[], reply_to_external_id=None, sender_name="", sender_phone=None,
                state="skipped", reason=reason, lease_until=None, next_attempt_at=None, updated_at=utcnow())
    ).rowcount
    invalidate_totals(workspace_id)
    return count


def add_entry(workspace_id, kind, raw, user_id=None, regions=()):
    """Add a phone (national formats read in `regions`, see phones.regions_for) or a gateway label to the exclusion list; unsent
    messages of matching chats are emptied and skipped. Returns the entry."""
    value = _entry_value(kind, raw, regions)
    existing = db.session.scalar(sa.select(ExclusionEntry).where(
        ExclusionEntry.workspace_id == workspace_id, ExclusionEntry.kind == kind, ExclusionEntry.value == value))
    if existing is not None:
        return existing
    entry = ExclusionEntry(workspace_id=workspace_id, kind=kind, value=value, created_by_id=user_id)
    db.session.add(entry)
    if kind == "phone":
        chat_ids = db.session.scalars(sa.select(Chat.id).where(Chat.workspace_id == workspace_id,
                                                               Chat.remote_phone == value)).all()
        scrub_unsent(workspace_id, chat_ids, EXCLUDED_PHONE)
    db.session.commit()
    return entry


def _entry_value(kind, raw, regions):
    raw = (raw or "").strip()
    if kind == "phone":
        try:
            return to_e164_in_regions(raw, regions)
        except InvalidPhone as exc:
            raise PrivacyError(str(exc)) from None
    if kind == "label":
        if not raw or len(raw) > 200:
            raise PrivacyError("Give a label of 1 to 200 characters.")
        return raw.lower()
    raise PrivacyError("Unknown kind of exclusion.")


def remove_entry(workspace_id, entry_id):
    entry = db.session.get(ExclusionEntry, entry_id)
    if entry is None or entry.workspace_id != workspace_id:
        return False
    db.session.delete(entry)
    db.session.commit()
    return True


def entries(workspace_id):
    return db.session.scalars(sa.select(ExclusionEntry).where(ExclusionEntry.workspace_id == workspace_id)
                              .order_by(ExclusionEntry.kind, ExclusionEntry.value)).all()


def save_settings(workspace_id, allow_list_only, redact_codes, redact_cards):
    row = settings_row(workspace_id)
    row.allow_list_only, row.redact_codes, row.redact_cards = allow_list_only, redact_codes, redact_cards
    db.session.commit()
    return row


def save_visibility(workspace_id, members_see_all_messages):
    row = settings_row(workspace_id)
    row.members_see_all_messages = members_see_all_messages
    db.session.commit()
    return row


def settings_row(workspace_id):
    row = db.session.get(PrivacySettings, workspace_id)
    if row is None:
        row = PrivacySettings(workspace_id=workspace_id, allow_list_only=False, redact_codes=True, redact_cards=True,
                              members_see_all_messages=False, retention_days=None)
        db.session.add(row)
    return row


def excluded_chats(workspace_id, number_ids=None):
    """Excluded chats, of these numbers only when `number_ids` is given (see visible_number_ids)."""
    query = sa.select(Chat).where(Chat.workspace_id == workspace_id, Chat.excluded_at.is_not(None))
    if number_ids is not None:
        query = query.where(Chat.whatsapp_number_id.in_(number_ids))
    return db.session.scalars(query.order_by(Chat.id)).all()
