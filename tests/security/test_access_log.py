"""`make run`'s access log (scripts/access_log.py): the path without its query string, invitation
tokens masked, no Referer (it may be an invitation link too)."""
import datetime
import types

from gunicorn.config import Config

from scripts import devstack
from scripts.access_log import MaskedAccessLogger

TOKEN = "Zx81-invite-token-secret"


def _atoms(path, query="", referer=None):
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": path + (f"?{query}" if query else ""), "PATH_INFO": path,
               "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    headers = [("REFERER", referer)] if referer else []
    if referer:
        environ["HTTP_REFERER"] = referer
    resp = types.SimpleNamespace(status="200 OK", sent=10, headers=[])
    req = types.SimpleNamespace(headers=headers)
    return MaskedAccessLogger(Config()).atoms(resp, req, environ, datetime.timedelta(milliseconds=5))


def test_invitation_tokens_and_queries_never_reach_the_log():
    atoms = _atoms(f"/auth/invite/{TOKEN}", query="code=oauth-code-123",
                   referer=f"http://127.0.0.1:5000/auth/invite/{TOKEN}")
    line = " ".join(str(v) for v in atoms.values())
    assert TOKEN not in line and "oauth-code-123" not in line
    assert atoms["U"] == "/auth/invite/***" and atoms["r"] == "GET /auth/invite/*** HTTP/1.1"


def test_other_paths_are_logged_as_they_are():
    atoms = _atoms("/integrations/close/callback", query="code=abc&state=def")
    assert atoms["U"] == "/integrations/close/callback" and "abc" not in atoms["r"]


def test_make_run_uses_the_masking_logger():
    source = open(devstack.__file__).read()
    assert "--logger-class scripts.access_log.MaskedAccessLogger" in source
