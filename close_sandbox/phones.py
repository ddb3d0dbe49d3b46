"""Phone normalization the way Close presents phones: E.164 + display form + country."""
import phonenumbers

DEFAULT_REGION = "US"  # Close's doc examples turn 10-digit input into +1… (a US organization)


def parse(raw, region: str = DEFAULT_REGION):
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return number


def to_e164(raw, region: str = DEFAULT_REGION) -> str | None:
    number = parse(raw, region)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize(raw, region: str = DEFAULT_REGION) -> dict | None:
    """{"phone", "phone_formatted", "country"} or None when unparseable."""
    number = parse(raw, region)
    if number is None:
        return None
    country = phonenumbers.region_code_for_number(number) or phonenumbers.region_code_for_country_code(
        number.country_code
    )
    if country == "ZZ":
        country = None
    return {
        "phone": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        "phone_formatted": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        "country": country,
    }


def stored(raw, region: str = DEFAULT_REGION) -> dict | None:
    """A contact phone as Close keeps it: normalized when parseable in the organization's country,
    otherwise kept as typed (close-api.md §4.3 leaves invalid input undocumented; we don't drop it)."""
    normalized = normalize(raw, region)
    if normalized is not None:
        return normalized
    if not isinstance(raw, str) or not raw.strip():
        return None
    return {"phone": raw.strip(), "phone_formatted": raw.strip(), "country": None}


def digits(raw) -> str:
    return "".join(ch for ch in str(raw or "") if ch.isdigit())


def same_number(query, stored_e164: str, region: str = DEFAULT_REGION) -> bool:
    """Match a search value against a stored phone regardless of formatting."""
    wanted = to_e164(query, region)
    if wanted is not None and to_e164(stored_e164, region) is not None:
        return wanted == to_e164(stored_e164, region)
    # unparseable query (or a phone kept as typed): fall back to comparing bare digits
    query_digits = digits(query)
    return bool(query_digits) and query_digits == digits(stored_e164)
