"""Phone parsing with `phonenumbers`: everything we store is E.164."""
import phonenumbers


class InvalidPhone(ValueError):
    pass


def to_e164(raw, region=None):
    """Parse a phone typed in any common format; `region` (e.g. 'US') resolves national numbers."""
    if raw is None or not str(raw).strip():
        raise InvalidPhone("A phone number is required.")
    text = str(raw).strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else (region or None))
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"{raw!r} is not a phone number; use international format like +14155550123.")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{raw!r} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(e164):
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164))
