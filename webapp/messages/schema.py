"""The one schema of the ingestion API (pydantic v2): these models validate requests, shape
responses and generate /api/openapi.json (webapp/api/openapi.py).

IncomingMessage is the shape of one message from any source: the API body, the batch item,
and what a webhook or gateway adapter builds before calling ingest.accept(). Workspace-specific
checks (is the number registered? the customer's phone in the number's region) happen in accept().
Errors are reported as {"chat.phone": "what is wrong"} (see field_errors()).
"""
import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError, model_validator

from webapp.core.input_guard import char_problem
from webapp.messages.states import STATES

MAX_ID = 200
MAX_TEXT = 65_536
MAX_ATTACHMENTS = 10
MAX_BATCH = 500
CONTENT_TYPE = r"^[\w.+-]+/[\w.+-]+$"
HTTP_URL = r"^https?://\S+$"


class FieldProblem(ValueError):
    """A rule broken by a field of the model being checked (reported at that field's path)."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def _storable(value):
    # PostgreSQL text can't hold NUL and UTF-8 can't carry unpaired surrogates (both databases would
    # fail deep inside with a 500); no real message field needs either.
    problem = char_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _not_blank(value):
    if not value.strip():
        raise ValueError("Must not be empty.")
    return value


def parse_time(value):
    """ISO 8601 with a UTC offset (or Z); naive times are ambiguous and refused."""
    if isinstance(value, datetime):
        parsed = value
    else:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("Must be an ISO 8601 date-time string.")
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("Not an ISO 8601 date-time (e.g. 2025-06-01T09:30:00Z).") from None
    if parsed.tzinfo is None:
        raise ValueError("Include a UTC offset, e.g. 2025-06-01T09:30:00Z or +02:00.")
    if not 2000 <= parsed.year <= 2100:
        raise ValueError("Date is out of range.")
    return parsed.astimezone(UTC)


def _base64(value):
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("Not valid base64.") from None
    return value


Str = Annotated[StrictStr, AfterValidator(_storable)]
Id = Annotated[Str, Field(min_length=1, max_length=MAX_ID), AfterValidator(_not_blank)]
DateTime = Annotated[datetime, BeforeValidator(parse_time), Field(json_schema_extra={"format": "date-time"})]


class Attachment(BaseModel):
    """A file, by URL (fetched by the worker) or inline as base64. Exactly one of url/data.
    Files over Close's 25 MB per message are synced without the file (reason noted)."""
    filename: Annotated[Str, Field(min_length=1, max_length=255), AfterValidator(_not_blank)]
    content_type: Annotated[Str, Field(min_length=1, max_length=100, pattern=CONTENT_TYPE,
                                             examples=["image/jpeg"])]
    url: Annotated[Str, Field(max_length=2000, pattern=HTTP_URL, json_schema_extra={"format": "uri"})] | None = None
    data: Annotated[Str, AfterValidator(_base64), Field(description="base64",
                                                              json_schema_extra={"format": "byte"})] | None = None
    whatsapp_media_id: Annotated[Str, Field(max_length=200, description=(
        "WhatsApp Cloud API media id (webhook only; the API refuses it)."))] | None = None

    @model_validator(mode="after")
    def _one_source(self, info):
        media_ok = bool(info.context and info.context.get("media_ids"))
        if media_ok and self.whatsapp_media_id and self.url is None and self.data is None:
            return self
        if (self.url is None) == (self.data is None) or self.whatsapp_media_id:
            raise ValueError("Give exactly one of url or data (base64).")
        return self

    def stored(self):
        """The dict kept on the message row (size of inline data for the 25 MB check)."""
        entry = {"filename": self.filename, "content_type": self.content_type}
        if self.whatsapp_media_id and self.url is None and self.data is None:
            entry["whatsapp_media_id"] = self.whatsapp_media_id
        elif self.url is not None:
            entry["url"] = self.url
        else:
            entry.update(data=self.data, size=len(base64.b64decode(self.data)))
        return entry


class IncomingChat(BaseModel):
    id: Id
    type: Literal["direct", "group"] = "direct"
    phone: Annotated[Str, Field(min_length=1, max_length=40, examples=["(415) 555-0101"], description=(
        "The customer's phone; national formats are read in the region of whatsapp_number. "
        "Required for direct chats."))] | None = None
    name: Annotated[Str, Field(max_length=200)] = ""
    labels: Annotated[list[Annotated[Str, Field(max_length=200)]], Field(max_length=50, description=(
        "Chat labels from the gateway, where it has them; a label on the workspace's exclusion list "
        "keeps the chat out of Close."))] = []

    @model_validator(mode="after")
    def _phone_for_direct(self):
        if self.type == "direct" and self.phone is None:
            raise FieldProblem("phone", "This field is required.")
        if self.type == "direct" and not self.phone.strip():
            raise FieldProblem("phone", "Must not be empty.")
        return self


class Sender(BaseModel):
    """Who wrote a group-chat message (shown in the Close activity of a pinned group)."""
    name: Annotated[Str, Field(max_length=200)] = ""
    phone: Annotated[Str, Field(max_length=40, examples=["+14155550102"])] | None = None


class IncomingContent(BaseModel):
    """Needs text or at least one attachment."""
    id: Annotated[Id, Field(description="The message id in WhatsApp; the idempotency key.")]
    direction: Literal["incoming", "outgoing"]
    sent_at: Annotated[DateTime, Field(description="ISO 8601 with a UTC offset or Z.")]
    text: Annotated[Str, Field(max_length=MAX_TEXT)] = ""
    reply_to: Annotated[Id, Field(description="Id of the message this one replies to.")] | None = None
    attachments: Annotated[list[Attachment], Field(max_length=MAX_ATTACHMENTS)] = []
    sender: Annotated[Sender | None, Field(description="Group chats: who wrote the message.")] = None

    @model_validator(mode="after")
    def _has_content(self):
        if not self.text.strip() and not self.attachments:
            raise FieldProblem("text", "A message needs text or at least one attachment.")
        return self


class IncomingMessage(BaseModel):
    """One WhatsApp message, from any source (the body of POST /api/v1/messages)."""
    whatsapp_number: Annotated[Str, Field(min_length=1, max_length=40, examples=["+14155550001"],
                                                description="The workspace's registered WhatsApp number (E.164)."),
                               AfterValidator(_not_blank)]
    chat: IncomingChat
    message: IncomingContent


class BatchIn(BaseModel):
    messages: Annotated[list[IncomingMessage], Field(min_length=1, max_length=MAX_BATCH)]


# -- responses ---------------------------------------------------------------------------------------

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class ChatRef(BaseModel):
    id: str
    type: Literal["direct", "group"]


class CloseRef(BaseModel):
    lead_id: str | None
    activity_id: str | None
    lead_url: str | None


class MessageRecord(BaseModel):
    """The public view of a message and its sync state."""
    model_config = ConfigDict(json_schema_mode_override="serialization")
    id: str
    whatsapp_number: str
    chat: ChatRef
    direction: Literal["incoming", "outgoing"]
    sent_at: Timestamp
    received_at: Timestamp
    state: Literal[STATES] = Field(description="received → queued → synced | skipped | held | failed → dead")
    reason: str | None = Field(description="Why skipped/held/failed/dead, or a note on a synced one.")
    attempts: int = Field(ge=0)
    next_attempt_at: Timestamp | None
    synced_at: Timestamp | None
    close: CloseRef


class BatchItemResult(BaseModel):
    index: int
    status: Literal[200, 202, 400]
    message: MessageRecord | None = None
    errors: dict[str, str] | None = None


class BatchResult(BaseModel):
    created: int
    duplicates: int
    invalid: int
    results: list[BatchItemResult]


class ErrorBody(BaseModel):
    error: str
    message: str | None = None
    errors: dict[str, str] | None = Field(None, description="Field path (e.g. chat.phone) → what is wrong.")


class WebhookRejection(BaseModel):
    id: str | None = Field(description="The WhatsApp message id, when the message had one.")
    errors: dict[str, str] = Field(description="Field path → what is wrong.")


class WebhookResult(BaseModel):
    stored: int
    duplicates: int
    ignored: int
    rejected: list[WebhookRejection] = Field([], description="Signed but malformed messages: acknowledged, not stored.")


# -- errors ------------------------------------------------------------------------------------------

MESSAGES = {
    "missing": "This field is required.",
    "string_type": "Must be a string.",
    "string_too_short": "Must not be empty.",
    "model_type": "Must be an object.",
    "model_attributes_type": "Must be an object.",
    "dict_type": "Must be an object.",
    "list_type": "Must be a list.",
}
PATTERN_MESSAGES = {"content_type": "Must be a MIME type like image/jpeg.", "url": "Must be an http(s) URL."}


def field_errors(exc: ValidationError):
    """{field path: message}, one message per field (the first), in today's wording."""
    errors = {}
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        problem = (error.get("ctx") or {}).get("error")
        if isinstance(problem, FieldProblem):
            loc.append(problem.field)
        path = _path(loc)
        errors.setdefault(path or "body", _message(error, loc, path))
    return errors


def _path(loc):
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error, loc, path):
    kind = error["type"]
    if not path:
        return "Must be a JSON object."
    if kind in MESSAGES:
        return MESSAGES[kind]
    if kind == "string_too_long":
        return f"At most {error['ctx']['max_length']} characters."
    if kind == "too_long":
        return f"At most {error['ctx']['max_length']} items."
    if kind == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(str(loc[-1]), "Has the wrong format.")
    if kind == "literal_error":
        return f"Must be {error['ctx']['expected']}."
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return error["msg"]
