"""A gateway's history as plain data, for history-import tests that need no gateway."""
from datetime import UTC, datetime, timedelta

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


class ListSource:
    """A gateway's history as plain data (the adapter's contract: chats(), messages(chat))."""

    def __init__(self, chats):
        self._chats = chats    # [(HistoryChat, [IncomingMessage])]

    def chats(self):
        return [chat for chat, _ in self._chats]

    def messages(self, chat):
        return next(items for c, items in self._chats if c.id == chat.id)


def history_chat(chat_id, count, phone=None, kind="direct", name="", number="+14155550001", prefix=None):
    """(HistoryChat, its `count` messages from T0 on, a minute apart, alternating direction)."""
    from webapp.history_import.service import HistoryChat
    from webapp.messages.schema import IncomingMessage
    prefix = prefix or chat_id
    items = [IncomingMessage(whatsapp_number=number,
                             chat={"id": chat_id, "type": kind, "phone": phone, "name": name},
                             message={"id": f"{prefix}-{i}", "direction": "incoming" if i % 2 else "outgoing",
                                      "sent_at": T0 + timedelta(minutes=i), "text": f"history {i}",
                                      **({"sender": {"name": "Ann", "phone": "+14155550180"}} if kind == "group" else {})})
             for i in range(count)]
    return HistoryChat(id=chat_id, kind=kind, phone=phone, name=name), items
