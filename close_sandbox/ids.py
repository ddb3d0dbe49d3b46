"""Close-style object ids and timestamps."""
import hashlib
import secrets
import string
from datetime import UTC, datetime

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
CORE_ID_LEN = 43  # lead_, cont_, acti_, user_, orga_, memb_, role_, stat_
SHORT_ID_LEN = 22  # newer types such as pipe_


def _base62(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 62)
        chars.append(ALPHABET[rem])
    return "".join(chars)


def random_id(prefix: str, length: int = CORE_ID_LEN) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


def stable_id(prefix: str, name: str, length: int = CORE_ID_LEN) -> str:
    """Deterministic id derived from a name, so seeded objects keep their ids
    no matter in which order the seed creates them."""
    digest = hashlib.sha512(f"close-sandbox:{prefix}{name}".encode()).digest()
    return prefix + _base62(int.from_bytes(digest, "big"), length)


def iso(ts: float) -> str:
    """2013-02-20T05:30:24.844000+00:00 — always microseconds and +00:00."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


def parse_datetime(value) -> float | None:
    """Parse an ISO date or datetime into epoch seconds (naive = UTC)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)
