"""Identifiers in the shapes the real gateways use (all random, none meaningful)."""
import secrets
import string
import time
import uuid

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_B36 = string.digits + string.ascii_lowercase


def ulid_lower() -> str:
    """A lower-case ULID: 48-bit ms time + 80 random bits, Crockford base32 (26 chars)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_CROCKFORD[rem])
    return "".join(reversed(chars))


def event_id() -> str:
    return "evt_" + ulid_lower()


def request_id() -> str:
    """WAHA 2026.2 uses a short base36 uniqid per delivery; opaque to receivers."""
    return "".join(secrets.choice(_B36) for _ in range(18))


def upper_hex(length: int) -> str:
    return secrets.token_hex((length + 1) // 2).upper()[:length]


def wa_message_id(device: str = "ios") -> str:
    """WhatsApp key ids: iOS '3A'+18 hex, web/API '3EB0'+18 hex, Android 32 hex."""
    if device == "web":
        return "3EB0" + upper_hex(18)
    if device == "android":
        return upper_hex(32)
    return "3A" + upper_hex(18)


def instance_uuid() -> str:
    return str(uuid.uuid4())


def instance_token() -> str:
    return str(uuid.uuid4()).upper()


def cuid() -> str:
    return "c" + "".join(secrets.choice(_B36) for _ in range(24))


def digits(n: int) -> str:
    return str(secrets.randbelow(9) + 1) + "".join(secrets.choice(string.digits) for _ in range(n - 1))


def wamid() -> str:
    """Cloud API message ids look like 'wamid.' + base64 text; ours is opaque too."""
    return "wamid.HBgL" + secrets.token_urlsafe(30).replace("-", "A").replace("_", "B")


def pairing_code() -> str:
    alphabet = string.ascii_uppercase + string.digits
    code = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def qr_value() -> str:
    """Looks like WhatsApp's '2@<ref>,<noise key>,<identity key>,<adv secret>' (opaque)."""
    return "2@" + ",".join(secrets.token_urlsafe(n) for n in (36, 32, 32, 32))
