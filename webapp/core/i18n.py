"""Languages: which one a request speaks, and how dates and numbers look in it.

English is the source language; the catalogs in webapp/translations add Brazilian Portuguese and
Spanish (`make translations` extracts, updates and compiles them). A signed-in user's own choice
(the account page) wins; otherwise the browser's Accept-Language decides, and English is the
fallback. Times are stored in UTC and shown in UTC, so every page agrees with the logs and Close.
"""
from babel import Locale
from flask import has_request_context, request
from flask_babel import format_date, format_datetime, format_decimal, format_time, get_locale
from flask_login import current_user

# code -> the language's name in itself (what the picker shows, so a lost user finds their own).
LANGUAGES = {
    "en": "English",
    "pt_BR": "Português (Brasil)",
    "es": "Español",
}
DEFAULT_LANGUAGE = "en"


def select_locale():
    """The user's saved language, else the browser's best match, else English. Jobs and commands
    (no request) speak English unless they ask for a reader's language (flask_babel.force_locale)."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    return browser_language(request.accept_languages)


def browser_language(accept_languages):
    """The best supported language for an Accept-Language header (werkzeug's LanguageAccept).

    A region we have no catalog for still gets its language: pt-PT reads pt_BR, es-MX reads es."""
    for tag, _quality in accept_languages:
        code = tag.replace("-", "_")
        for candidate in LANGUAGES:
            if candidate.lower() == code.lower():
                return candidate
        primary = code.split("_")[0].lower()
        for candidate in LANGUAGES:
            if candidate.split("_")[0].lower() == primary:
                return candidate
    return DEFAULT_LANGUAGE


def html_lang():
    """The current language as a BCP 47 tag for <html lang> (pt-BR, not pt_BR)."""
    return str(get_locale() or DEFAULT_LANGUAGE).replace("_", "-")


def language_choices():
    return [(code, name) for code, name in LANGUAGES.items()]


def is_supported(code):
    return code in LANGUAGES


# --- Template filters: dates and numbers in the reader's language ---------------------------------
# Times stay UTC (BABEL_DEFAULT_TIMEZONE); the pages say "UTC" where a time could be misread.

def when(value, missing="—"):
    """Date and time to the minute: 'Dec 4, 2026, 10:58 PM' / '4 de dez. de 2026 22:58'."""
    if value is None:
        return missing
    locale = get_locale() or Locale.parse(DEFAULT_LANGUAGE)
    pattern = locale.datetime_formats["medium"].replace("'", "")
    date_part = format_date(value, "medium")
    time_part = format_time(value, "short")
    return pattern.replace("{1}", date_part).replace("{0}", time_part)


def when_seconds(value, missing="—"):
    """Date and time to the second, for logs where order within a minute matters."""
    if value is None:
        return missing
    return format_datetime(value, "medium")


def day(value, missing="—"):
    """A date alone: 'Dec 4, 2026'."""
    if value is None:
        return missing
    return format_date(value, "medium")


def clock(value, missing="—"):
    """A time of day alone: '10:58 PM' / '22:58'."""
    if value is None:
        return missing
    return format_time(value, "short")


def number(value):
    """A count with the language's grouping: 1,234 / 1.234."""
    return format_decimal(value if value is not None else 0)


def init_app(app):
    for name, function in {"when": when, "when_seconds": when_seconds, "day": day, "clock": clock,
                           "number": number}.items():
        app.add_template_filter(function, name)
    app.add_template_global(html_lang)
    app.add_template_global(LANGUAGES, "languages")
