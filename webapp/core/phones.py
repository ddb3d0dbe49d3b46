"""Phone parsing with `phonenumbers`: everything we store is E.164."""
from functools import lru_cache

import phonenumbers
from babel import Locale

MIN_DIGITS = 6  # fewer digits are no phone number in any country (shortest national numbers have 6+)


class InvalidPhone(ValueError):
    pass


def _international(text):
    return text.startswith("+") or text.startswith("00")


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
        number = _todays_form(number)
        if number is None:
            raise InvalidPhone(f"{raw!r} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _todays_form(number):
    """The valid number behind a mobile number in a form its country has retired but WhatsApp
    still uses for accounts registered before the change (their JIDs keep it), or None:
    Mexico's "1" after +52 (dropped in 2019), Brazil's 8-digit mobiles without the leading 9
    (every mobile has 9 digits since 2016). Close and people use today's form."""
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        candidate = national[1:]
    elif number.country_code == 55 and len(national) == 10 and national[2] in "6789":
        candidate = national[:2] + "9" + national[2:]
    else:
        return None
    today = phonenumbers.PhoneNumber(country_code=number.country_code, national_number=int(candidate))
    return today if phonenumbers.is_valid_number(today) else None


def to_e164_in_regions(raw, regions):
    """A number typed by a person: international formats as they are; national formats (e.g.
    "(415) 555-0777") read in the first of `regions` (the person's country, then the workspace's)
    where they are valid. "Add the country code" is the answer only when no region can read it."""
    text = str(raw or "").strip()
    regions = [r for r in dict.fromkeys(r.upper() for r in regions if r)]
    if not text or _international(text) or not regions:
        try:
            return to_e164(text, None)
        except InvalidPhone:
            if text and not _international(text):
                raise InvalidPhone(f"Add the country code to {raw!r} (e.g. +1 415 555 0123): "
                                   "no country is known to read it in.")
            raise
    for region in regions:
        try:
            return to_e164(text, region)
        except InvalidPhone:
            continue
    if sum(ch.isdigit() for ch in text) < MIN_DIGITS:
        raise InvalidPhone(f"{raw!r} is not a phone number; type it like +1 415 555 0123.")
    names = " or ".join(region_name(r) for r in regions)
    raise InvalidPhone(f"{raw!r} is not a valid number in {names}. If it is from another country, "
                       "add the country code (e.g. +44 20 7946 0958).")


def region_of(e164):
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164))


def region_name(region):
    """'US' → 'United States' (CLDR's English name; the code when unknown). Babel, not phonenumbers'
    geocoder: the geocoder loads every prefix's place names (about 100 MB per process) for this."""
    return _ENGLISH_TERRITORIES.get(region) or region


_ENGLISH_TERRITORIES = Locale("en").territories


@lru_cache(maxsize=1)
def region_choices():
    """[(code, "Name (+NN)")] of every region phonenumbers knows, sorted by name."""
    rows = [(code, f"{region_name(code)} (+{phonenumbers.country_code_for_region(code)})")
            for code in phonenumbers.SUPPORTED_REGIONS]
    return sorted(rows, key=lambda row: row[1])


def regions_for(membership):
    """Where a member's national-format numbers are read: the country of their own WhatsApp
    numbers first, then the workspace's default region."""
    regions = []
    for number in sorted(membership.numbers, key=lambda n: n.id):
        try:
            regions.append(region_of(number.e164))
        except phonenumbers.NumberParseException:
            continue
    regions.append(membership.workspace.default_region)
    return [r for r in dict.fromkeys(regions) if r]
