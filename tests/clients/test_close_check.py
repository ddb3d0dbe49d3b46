"""`make close-check` against the strict sandbox: every call Closeline depends on, one line each,
and nothing left behind in the organization."""
import os
import subprocess
import sys

import pytest

from tests.helpers.paths import ROOT

pytestmark = pytest.mark.sqlite_only  # talks to the sandbox only, never to Closeline's database
KEY = "api_demo_dana_acme_sales"


def _run(close_sandbox, key=KEY):
    env = dict(os.environ, CLOSE_API_KEY=key, CLOSE_API_URL=close_sandbox.api_url, CLOSE_CHECK_SEARCH_TIMEOUT="20",
               PYTHONPATH=ROOT)
    env.pop("CLOSE_ACCESS_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "scripts.close_check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def _counts(close_sandbox):
    org = close_sandbox.control("GET", "/_sandbox/state")["organizations"][0]
    return org["counts"]


def test_close_check_passes_against_the_sandbox_and_cleans_up(close_sandbox):
    close_sandbox.control("PUT", "/_sandbox/search-index", {"delay": 2})
    before = _counts(close_sandbox)
    result = _run(close_sandbox)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for line in ("✓ [D] GET /me/ names the user", "✓ [D] GET /organization/{id}/ lists lead statuses",
                 "✓ [U] GET /role/ lists the user's role by its id (admin)",
                 "✓ [D] Lead Visibility = All Leads (view_all_leads)",
                 "✓ [D] responses carry `RateLimit: limit, remaining, reset`",
                 "✓ [D] GET /user/ lists the organization's users",
                 "✓ [D] POST /lead/ creates a lead with a contact and a phone",
                 "✓ [U] a phone typed without country code (202-555-0144) is read in the organization's country",
                 "✓ [U] an unparseable phone ('ext. 12') is kept as typed",
                 "✓ [D] POST /data/search/ finds the new contact by its E.164 phone",
                 "✓ [D] POST /files/upload/ and the signed upload give a download url",
                 "✓ [D] POST /activity/whatsapp_message/ creates the activity with its integration_link",
                 "✓ [D] GET /activity/whatsapp_message/?external_whatsapp_message_id= finds it",
                 "✓ [D] PUT /activity/whatsapp_message/{id}/ edits it",
                 "✓ [U] an empty message_markdown is refused",
                 "✓ [D] DELETE /lead/{id}/ removes the test lead",
                 "✓ [U] GET /role/admin/ (a built-in id) is refused as the strict sandbox assumes",
                 "[U] search index delay observed"):
        assert line in out, line
    assert "✗" not in out
    assert _counts(close_sandbox) == before  # test lead, contacts and activity are gone


def test_close_check_reports_what_breaks_closeline(close_sandbox):
    sales = close_sandbox.control("GET", "/_sandbox/state")["organizations"][0]["id"]
    close_sandbox.control("PUT", "/_sandbox/roles/admin", {"organization_id": sales, "remove": ["view_all_leads"]})
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_status": 403, "paths": ["/role/"]})
    result = _run(close_sandbox)
    assert result.returncode == 1
    assert "✗ [D] Lead Visibility = All Leads (view_all_leads)" in result.stdout
    assert "✗ [U] GET /role/ lists roles (else permissions_granted decides)" in result.stdout
    assert "fix before going live: Lead Visibility = All Leads" in result.stdout


def test_close_check_explains_a_missing_key():
    env = {k: v for k, v in os.environ.items() if k not in ("CLOSE_API_KEY", "CLOSE_ACCESS_TOKEN")}
    result = subprocess.run([sys.executable, "-m", "scripts.close_check"], cwd=ROOT, env=dict(env, PYTHONPATH=ROOT),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "CLOSE_API_KEY" in result.stderr
