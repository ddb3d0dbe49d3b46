"""Redaction of one-time codes and card numbers (pure), with properties for phones and prices."""
import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.messages.redaction import PLACEHOLDERS, luhn_ok, normalized, note_for, redact

CODE, CARD = PLACEHOLDERS["one-time code"], PLACEHOLDERS["card number"]


@pytest.mark.parametrize("text, expected", [
    ("Your verification code is 482913. Don't share it.", f"Your verification code is {CODE}. Don't share it."),
    ("123-456 is your Acme login code", f"{CODE} is your Acme login code"),
    ("OTP: 5531", f"OTP: {CODE}"),
    ("Código de verificación: 204 118", f"Código de verificación: {CODE}"),
    ("card 4111 1111 1111 1111 exp 12/27", f"card {CARD} exp 12/27"),
    ("Amex 378282246310005 please", f"Amex {CARD} please"),
    ("mc 5555-5555-5555-4444", f"mc {CARD}"),
])
def test_codes_and_cards_are_replaced(text, expected):
    assert redact(text)[0] == expected


def test_what_is_left_alone():
    for text in ["Meeting at 1430 tomorrow", "The order 4111 1111 1111 1112 failed",  # no code word / bad Luhn
                 "Call +86 138 0013 8000", "Code costs $1499", "The code is 1,299.00 EUR",
                 "Invoice 2025 for 1500 dollars"]:
        assert redact(text) == (text, {}), text


def test_switches_and_note():
    text = "code 482913, card 4111111111111111"
    assert redact(text, codes=False)[0] == f"code 482913, card {CARD}"
    assert redact(text, cards=False)[0] == f"code {CODE}, card 4111111111111111"
    clean, counts = redact(text)
    assert counts == {"one-time code": 1, "card number": 1}
    assert note_for(counts) == "Closeline redacted 1 card number and 1 one-time code before syncing."
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


REGIONS = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "MX", "IN", "AU", "CA", "ZA", "NG", "AR", "PL"]
FORMATS = [phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
           phonenumbers.PhoneNumberFormat.NATIONAL]


@st.composite
def phone_numbers(draw):
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]))
    example = phonenumbers.example_number_for_type(region, kind)
    national = str(example.national_number)
    tail = draw(st.text("0123456789", min_size=3, max_size=3))
    number = phonenumbers.parse(f"+{example.country_code}{national[:-3]}{tail}")
    fmt = draw(st.sampled_from(FORMATS))
    if fmt == phonenumbers.PhoneNumberFormat.NATIONAL:
        # National formats look like codes only without a code word; tested below without one.
        return phonenumbers.format_number(number, fmt), False
    return phonenumbers.format_number(number, fmt), True


@st.composite
def prices(draw):
    cents = draw(st.integers(min_value=0, max_value=9_999_999))
    whole, frac = divmod(cents, 100)
    style = draw(st.sampled_from(["${:,}.{:02d}", "€{:,}", "{:,}.{:02d} EUR", "USD {}", "£{}", "R$ {:,}",
                                  "{} dollars", "{},{:02d} €", "₹{:,}", "{}%"]))
    return style.format(whole, frac)


@settings(max_examples=300, deadline=None)
@given(phone=phone_numbers(), price=prices(),
       template=st.sampled_from(["Call me on {phone}, the quote is {price}.", "{price} — ring {phone}",
                                 "Total {price}\nWhatsApp: {phone}"]))
def test_phone_numbers_and_prices_are_never_redacted(phone, price, template):
    (number, international), text = phone, template.format(phone=phone[0], price=price)
    assert redact(text) == (text, {})
    if international:  # even next to a code word, a written phone number or a price stays
        coded = f"Your verification code: call {number} about the {price} invoice"
        assert redact(coded) == (coded, {})


# Spellings people (and gateways) really produce: each must lose its secret.
HIDDEN = [
    "card 4111.1111.1111.1111", "card 4111  1111  1111  1111", "card 4111/1111/1111/1111",
    "card 4111_1111_1111_1111", "card 4111\n1111\n1111\n1111", "card (4111 1111 1111 1111)",
    "card +4111111111111111", "card ４１１１ １１１１ １１１１ １１１１", "card ٤١١١١١١١١١١١١١١١",
    "card 4111\u200b1111\u200b1111\u200b1111", "4111 1111 1111 1111  2027 is the expiry",
    "OTP482918", "your code: 48 29 17", "log in with 482918", "code 482918123",
    "Your code for Acme, valid for ten minutes, please do not share it with anyone: 482918",
    "482918 is your verification code", "Ihr Bestätigungscode lautet 482918", "Il tuo codice è 482918",
    "Je verificatiecode is 482918", "Votre code : 482918", "Seu código é 482918", "Su código: 482918",
    "Aapka OTP 482918 hai", "आपका कोड ४८२९१८ है", "senha 4829", "code ４８２９１８", "code 48\u200b29\u200b18",
    "Tu clave de acceso: 482918",
]
# What looks like a number but is no secret: order numbers, prices, dates, phones, postcodes.
PLAIN = [
    "Order #4521 shipped", "Total $1,234.56", "R$ 1.234,56", "meet on 2024-03-12 at 14:30", "due 12/03/2024",
    "Call +1 415 555 0101", "call (415) 555-0101", "Invoice 2025 for 1500 dollars",
    "promo code SAVE10 on order 12/03/2024", "Your code expires on 12.03.2024", "Track 1Z999AA10123456784",
    "The code is 1,299.00 EUR", "+44 20 7946 0958 is the office code", "Postcode 10115 Berlin",
    "zip code 94103", "código postal 28001", "PIN code 110001", "Room 4521, floor 3", "ref 2024-0042",
]


@pytest.mark.parametrize("text", HIDDEN)
def test_every_spelling_of_a_code_or_card_is_redacted(text):
    clean, counts = redact(text)
    assert counts, clean
    left = re.sub(r"\D", "", normalized(clean)[0])   # every digit still there, in any script
    assert left in ("", "2027"), clean                # only the card's expiry year may stay


@pytest.mark.parametrize("text", PLAIN)
def test_numbers_that_are_no_secret_are_left_alone(text):
    assert redact(text) == (text, {})


@settings(max_examples=200, deadline=None)
@given(code=st.text("0123456789", min_size=6, max_size=6),
       joiner=st.sampled_from(["", " ", ": ", " is ", "\u200b", " - "]),
       word=st.sampled_from(["code", "OTP", "PIN", "código", "Code", "codice", "verificatiecode", "senha", "कोड"]),
       digits=st.sampled_from(["ascii", "fullwidth", "arabic-indic", "devanagari"]))
def test_a_code_next_to_its_word_never_survives_in_any_digits(code, joiner, word, digits):
    offsets = {"ascii": 0x30, "fullwidth": 0xFF10, "arabic-indic": 0x660, "devanagari": 0x966}
    written = "".join(chr(offsets[digits] + int(d)) for d in code)
    clean, counts = redact(f"Your {word}{joiner}{written}.")
    assert counts.get("one-time code") == 1 and written not in clean
