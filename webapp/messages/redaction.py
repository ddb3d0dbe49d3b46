"""Redaction of message text before it is stored or leaves. Pure functions, no I/O.

    redact(text, codes=True, cards=True) -> (text, {"one-time code": n, "card number": n})

A "digit run" is a maximal stretch of digits joined by single spaces, hyphens, dots or brackets
(how phone numbers, card numbers and codes are written). Each run is judged as a whole, so a
4-digit piece of a phone number is never mistaken for a code.

- One-time code: a run of 4-8 digits, or two groups of three ("123 456", "123-456"), within
  CODE_WINDOW characters of a code word ("code", "OTP", "PIN", "verification", …), not next to a
  currency sign or word, not a decimal amount.
- Payment card: a run of 13-19 digits starting with 2-6 (the card networks' ranges) that passes
  the Luhn check and is not written as an international phone number (+…).
"""
import re

CODE_LABEL = "one-time code"
CARD_LABEL = "card number"
PLACEHOLDERS = {CODE_LABEL: "[one-time code redacted]", CARD_LABEL: "[card number redacted]"}

# Listed on the privacy settings page (what each switch replaces).
PATTERNS = {
    CODE_LABEL: "4-8 digits (or 123 456) next to a word like code, OTP, PIN, passcode, verification",
    CARD_LABEL: "13-19 digits starting with 2-6 that pass the Luhn check (Visa, Mastercard, Amex, …)",
}

CODE_WINDOW = 40
RUN = re.compile(r"[+(]?\d(?:[ \-.()]?\d)*\)?")
CODE_WORDS = re.compile(
    r"\b(?:codes?|otp|pin|passcode|pass code|verification|verify|one[- ]time|2fa|mfa|security|"
    r"login|sign[- ]in|código|codigo|code de|Code|kod|tac|token)\b", re.IGNORECASE)
CURRENCY_BEFORE = re.compile(r"(?:[$€£¥₹₩₽]|\b(?:usd|eur|gbp|brl|inr|mxn|chf|jpy|cad|aud|r\$|rs\.?))\s*$",
                             re.IGNORECASE)
CURRENCY_AFTER = re.compile(r"^\s*(?:[$€£¥₹₩₽%]|(?:usd|eur|gbp|brl|inr|mxn|chf|jpy|cad|aud|dollars?|euros?|"
                            r"pounds?|reais|rupees?|pesos?|k\b|m\b))", re.IGNORECASE)
CODE_SHAPE = re.compile(r"^(?:\d{4,8}|\d{3}[ -]\d{3})$")
CARD_SEPARATORS = re.compile(r"^\d(?:[ -]?\d)*$")


def redact(text, codes=True, cards=True):
    """The text with codes/card numbers replaced, and how many of each were replaced.

    Idempotent: placeholders already in the text count as redactions, so text redacted earlier
    on its way in (the webhook inbox) reports the same counts when ingest redacts it again."""
    counts = {label: text.count(mark) for label, mark in PLACEHOLDERS.items() if text and mark in text}
    if not text or not (codes or cards):
        return text, counts
    code_spans = _code_word_spans(text) if codes else []
    pieces, last = [], 0
    for match in RUN.finditer(text):
        label = _judge(text, match, code_spans, cards)
        if label is None:
            continue
        pieces.append(text[last:match.start()])
        pieces.append(PLACEHOLDERS[label])
        counts[label] = counts.get(label, 0) + 1
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces), counts


def note_for(counts):
    """One line for the Close activity saying what was redacted (empty when nothing was)."""
    if not counts:
        return ""
    parts = [f"{n} {label}{'s' if n > 1 else ''}" for label, n in sorted(counts.items())]
    return "Closeline redacted " + " and ".join(parts) + " before syncing."


def _judge(text, match, code_spans, cards):
    run = match.group()
    digits = re.sub(r"\D", "", run)
    if cards and _is_card(run, digits):
        return CARD_LABEL
    if code_spans and _is_code(text, match, run, code_spans):
        return CODE_LABEL
    return None


def _is_card(run, digits):
    if run[0] in "+(" or not CARD_SEPARATORS.match(run):
        return False
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


def _is_code(text, match, run, code_spans):
    if not CODE_SHAPE.match(run):
        return False
    before, after = text[:match.start()], text[match.end():]
    if CURRENCY_BEFORE.search(before) or CURRENCY_AFTER.match(after):
        return False
    if re.match(r"^[.,]\d", after) or re.search(r"\d[.,]$", before):  # part of 1,234 or 12.50
        return False
    return any(start - CODE_WINDOW <= match.start() and match.end() <= end + CODE_WINDOW
               for start, end in code_spans)


def _code_word_spans(text):
    return [(m.start(), m.end()) for m in CODE_WORDS.finditer(text)]


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
