"""Redaction of message text before it is stored or leaves. Pure functions, no I/O.

    redact(text, codes=True, cards=True) -> (text, {"one-time code": n, "card number": n})

The text is judged on a normalized copy, so a number hides behind no spelling: every Unicode
decimal digit reads as 0-9 (full-width, Arabic-Indic, Devanagari…), compatibility forms fold
(NFKC), zero-width characters vanish, any space or line break is a space and any dash a hyphen.
What is found is replaced in the original text.

A "digit run" is a stretch of digits joined by at most two separators at a time (spaces, -, ., _,
/, brackets), as people write card numbers and codes. Each run is judged as a whole, so a 4-digit
piece of a phone number is never mistaken for a code.

- Payment card: 13-19 digits starting with 2-6 (the card networks' ranges) that pass the Luhn
  check, and are not a valid international phone number written with +. In a longer run (two
  numbers written side by side) the groups that make up such a card are found too.
- One-time code: 4-9 digits (one block, or groups such as "123 456" or "48 29 17"), within
  CODE_WINDOW characters of a code word in one of WhatsApp's big languages ("code", "OTP", "PIN",
  "código", "senha", "Bestätigungscode", "codice", "wachtwoord", "कोड"…), not a date, not next to
  a currency, not a decimal amount, not a phone number written with +.
"""
import re
import unicodedata

import phonenumbers

CODE_LABEL = "one-time code"
CARD_LABEL = "card number"
PLACEHOLDERS = {CODE_LABEL: "[one-time code redacted]", CARD_LABEL: "[card number redacted]"}

# Listed on the privacy settings page (what each switch replaces).
PATTERNS = {
    CODE_LABEL: "4-9 digits (or 123 456) next to a word like code, OTP, PIN, passcode, verification, "
                "código, senha, Code, codice, wachtwoord",
    CARD_LABEL: "13-19 digits starting with 2-6 that pass the Luhn check (Visa, Mastercard, Amex, …), "
                "however they are spaced or written",
}

CODE_WINDOW = 80
ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"}
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
RUN = re.compile(r"[+(]?\d(?:[ \-._/()]{1,2}\d|\d)*\)?")
# Stems a word may end in ("Bestätigungscode", "inlogcode", "Sicherheitscode").
CODE_STEMS = r"codes?|codice|codici|c[oó]digos?|kode|kod|kood"
CODE_WORDS = re.compile(
    rf"(?:\b[^\W\d_]*(?:{CODE_STEMS})"
    r"|\b(?:otp|pin|passcode|pass code|password|passwort|wachtwoord|mot de passe|senha|clave|contraseña|"
    r"sandi|şifre|verification|verify|verificación|verificacion|verificação|verificacao|vérification|"
    r"verifica|verificatie|bestätigung|one[- ]time|einmal\w*|2fa|mfa|security|login|log[- ]?in|"
    r"sign[- ]?in|inloggen|accesso|tan|token|auth\w*|sankhya|"
    r"कोड|ओटीपी|पिन|पासवर्ड|код|пароль|رمز|كود))"
    r"(?![^\W\d_])", re.IGNORECASE)
# Words that make a "code" an address, a price or a product, not a secret.
NOT_SECRET_BEFORE = {"zip", "postal", "post", "area", "country", "dialing", "dialling", "promo", "discount",
                     "coupon", "voucher", "referral", "gift", "tracking", "product", "item", "style", "colour",
                     "color", "dress", "tax", "bar", "qr", "source", "hs", "sort", "swift", "bank", "pin"}
NOT_SECRET_AFTER = {"postal", "postale", "postal:", "postale:"}
CURRENCY_BEFORE = re.compile(r"(?:[$€£¥₹₩₽]|\b(?:usd|eur|gbp|brl|inr|mxn|chf|jpy|cad|aud|r\$|rs\.?))\s*$",
                             re.IGNORECASE)
CURRENCY_AFTER = re.compile(r"^\s*(?:[$€£¥₹₩₽%]|(?:usd|eur|gbp|brl|inr|mxn|chf|jpy|cad|aud|dollars?|euros?|"
                            r"pounds?|reais|rupees?|pesos?|k\b|m\b))", re.IGNORECASE)
CODE_GROUPS = re.compile(r"^(?:\d{4,9}|\d{1,4}(?:[ \-.]{1,2}\d{1,4})+)$")
DATE = re.compile(r"^(?:\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.]\d{2,4})$")


def redact(text, codes=True, cards=True):
    """The text with codes/card numbers replaced, and how many of each were replaced.

    Idempotent: placeholders already in the text count as redactions, so text redacted earlier
    on its way in (the webhook inbox) reports the same counts when ingest redacts it again."""
    counts = {label: text.count(mark) for label, mark in PLACEHOLDERS.items() if text and mark in text}
    if not text or not (codes or cards):
        return text, counts
    norm, origin = normalized(text)
    code_spans = _code_word_spans(norm) if codes else []
    found = []  # (start, end, label) in the normalized text
    for match in RUN.finditer(norm):
        found.extend(_judge(norm, match, code_spans, cards))
    pieces, last = [], 0
    for start, end, label in found:
        start, end = origin[start], origin[end - 1] + 1
        pieces.append(text[last:start])
        pieces.append(PLACEHOLDERS[label])
        counts[label] = counts.get(label, 0) + 1
        last = end
    pieces.append(text[last:])
    return "".join(pieces), counts


def normalized(text):
    """(normalized text, origin): origin[i] is the index in `text` of normalized character i."""
    chars, origin = [], []
    for index, char in enumerate(text):
        if char in ZERO_WIDTH:
            continue
        for folded in _fold(char):
            chars.append(folded)
            origin.append(index)
    return "".join(chars), origin


def _fold(char):
    if char.isdecimal():
        return str(unicodedata.decimal(char))
    if char.isspace():
        return " "
    if char in DASHES:
        return "-"
    if char.isascii():
        return char
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in unicodedata.normalize("NFKC", char))


def note_for(counts):
    """One line for the Close activity saying what was redacted (empty when nothing was)."""
    if not counts:
        return ""
    parts = [f"{n} {label}{'s' if n > 1 else ''}" for label, n in sorted(counts.items())]
    return "Closeline redacted " + " and ".join(parts) + " before syncing."


def _judge(text, match, code_spans, cards):
    """[(start, end, label)] of what this digit run holds."""
    start, end = match.span()
    run = match.group()
    if run.startswith("(") and run.endswith(")"):   # "(4111 1111 1111 1111)", "(482918)"
        start, end, run = start + 1, end - 1, run[1:-1]
    digits = re.sub(r"\D", "", run)
    if cards:
        card = _card_spans(run, digits, start)
        if card:
            return card
    if code_spans and _is_code(text, start, end, run, digits, code_spans):
        return [(start, end, CODE_LABEL)]
    return []


def _card_spans(run, digits, offset):
    if _is_card(run, digits):
        return [(offset, offset + len(run), CARD_LABEL)]
    if len(digits) <= 19:
        return []
    # Two numbers side by side ("4111 1111 1111 1111  2027"): the longest groups that make a card.
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
    for size in range(len(groups), 0, -1):
        for first in range(len(groups) - size + 1):
            begin, finish = groups[first][0], groups[first + size - 1][1]
            piece = run[begin:finish]
            if _is_card(piece, re.sub(r"\D", "", piece)):
                before = _card_spans(run[:begin], re.sub(r"\D", "", run[:begin]), offset)
                after = _card_spans(run[finish:], re.sub(r"\D", "", run[finish:]), offset + finish)
                return before + [(offset + begin, offset + finish, CARD_LABEL)] + after
    return []


def _is_card(run, digits):
    if not (13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)):
        return False
    return not (run.startswith("+") and _is_phone(digits))


def _is_phone(digits):
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse("+" + digits))
    except phonenumbers.NumberParseException:
        return False


def _is_code(text, start, end, run, digits, code_spans):
    if run.startswith("+") or "/" in run or "_" in run or not 4 <= len(digits) <= 9:
        return False
    if not CODE_GROUPS.match(run) or DATE.match(run):
        return False
    before, after = text[:start], text[end:]
    if CURRENCY_BEFORE.search(before) or CURRENCY_AFTER.match(after):
        return False
    if re.match(r"^[.,]\d", after) or re.search(r"\d[.,]$", before):  # part of 1,234 or 12.50
        return False
    if re.match(r"^\d{1,3}(?:[.,]\d{3})+$", run) or re.match(r"^\d+[.,]\d{1,2}$", run):  # 1.234.567, 12.50
        return False
    return any(word_start - CODE_WINDOW <= start and end <= word_end + CODE_WINDOW
               for word_start, word_end in code_spans)


def _code_word_spans(text):
    return [(m.start(), m.end()) for m in CODE_WORDS.finditer(text) if not _names_something_else(text, m)]


def _names_something_else(text, match):
    """"zip code", "Postcode", "código postal", "promo code": codes that are no secret."""
    word = match.group().lower()
    before = text[max(0, match.start() - 15):match.start()].lower().split()
    after = text[match.end():match.end() + 12].lower().split()
    if word == "pin" and after and after[0].startswith("code"):  # India's "PIN code" is the postal code
        return True
    return (word.startswith(("post", "zip")) or (before and before[-1] in NOT_SECRET_BEFORE)
            or (after and after[0].strip(".,:;") in NOT_SECRET_AFTER))


def luhn_ok(digits):
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0
