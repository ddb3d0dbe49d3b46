"""The pages' language: the user's own choice on the account page, else the browser's, else English;
dates and numbers follow it."""
from datetime import UTC, datetime

from flask import render_template_string
from flask_babel import refresh

from tests.helpers.web import text_of
from webapp.core.extensions import db
from webapp.models import User


def _lang(response):
    page = response.get_data(as_text=True)
    return page.split('<html lang="', 1)[1].split('"', 1)[0]


def test_the_browser_language_decides_for_a_visitor(app, browser):
    def lang_for(header):
        return _lang(browser.get("/auth/login", headers={"Accept-Language": header}))
    assert lang_for("pt-BR,pt;q=0.9,en;q=0.8") == "pt-BR"
    assert lang_for("pt-PT") == "pt-BR"           # Portuguese without a Brazilian catalog: still Portuguese
    assert lang_for("es-MX,es;q=0.9") == "es"
    assert lang_for("de-DE,fr;q=0.8") == "en"     # nothing we have: English
    assert lang_for("") == "en"


def test_a_saved_language_wins_over_the_browser(demo, login):
    owner = login("owner@acme.test")
    english_browser = {"Accept-Language": "en-US,en;q=0.9"}
    saved = owner.post("/settings/account", data={"language": "es"}, headers=english_browser,
                       follow_redirects=True)
    assert saved.status_code == 200
    assert "Idioma guardado." in text_of(saved) and _lang(saved) == "es"
    assert db.session.scalar(db.select(User.locale).where(User.email == "owner@acme.test")) == "es"
    dashboard = owner.get("/settings/account", headers=english_browser)
    assert _lang(dashboard) == "es" and "Tu cuenta" in text_of(dashboard)

    # Back to "same as my browser": the browser decides again.
    owner.post("/settings/account", data={"language": ""})
    assert db.session.scalar(db.select(User.locale).where(User.email == "owner@acme.test")) is None
    assert _lang(owner.get("/settings/account", headers={"Accept-Language": "pt-BR"})) == "pt-BR"


def test_an_unknown_language_is_refused_and_nothing_changes(demo, login):
    owner = login("owner@acme.test")
    refused = owner.post("/settings/account", data={"language": "xx"})
    assert refused.status_code == 400 and "Not a valid choice" in text_of(refused)
    assert db.session.scalar(db.select(User.locale).where(User.email == "owner@acme.test")) is None


def test_the_language_form_needs_its_csrf_token(demo, login):
    owner = login("owner@acme.test")
    assert owner.post("/settings/account", data={"language": "es"}, csrf=False).status_code == 400
    assert db.session.scalar(db.select(User.locale).where(User.email == "owner@acme.test")) is None


def test_dates_and_numbers_follow_the_language(app):
    moment = datetime(2026, 12, 4, 22, 58, 45, tzinfo=UTC)
    template = "{{ moment|when }} | {{ moment|day }} | {{ moment|clock }} | {{ 1234567|number }}"

    def rendered(header):
        with app.test_request_context("/", headers={"Accept-Language": header}):
            refresh()  # the test's one app context would keep the first request's language
            return render_template_string(template, moment=moment)
    assert rendered("en") == "Dec 4, 2026, 10:58\u202fPM | Dec 4, 2026 | 10:58\u202fPM | 1,234,567"
    assert rendered("pt-BR") == "4 de dez. de 2026 22:58 | 4 de dez. de 2026 | 22:58 | 1.234.567"
    assert rendered("es") == "4 dic 2026, 22:58 | 4 dic 2026 | 22:58 | 1.234.567"
