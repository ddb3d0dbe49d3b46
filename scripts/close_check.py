"""`make close-check`: check, call by call, that a real Close organization behaves the way Closeline
expects, before going live. Run it with a Close API key of the user who will connect:

    CLOSE_API_KEY=api_... make close-check            (CLOSE_API_URL defaults to Close's API)

It reads the user, organization, roles and users; creates ONE clearly named test lead (with a
contact, an uploaded file and a WhatsApp activity), updates the activity, finds the contact by
phone, then deletes the activity and the lead. Every expectation prints one line:

    ✓ / ✗ [D]  documented by Close: a ✗ here breaks Closeline, fix it before connecting
    ✓ / ✗ [U]  undocumented, our assumption (close-api.md §9): a ✗ shows where real Close
               differs from it (and from close_sandbox); tell the Closeline team

Exit status: 0 when every [D] expectation held, 1 otherwise, 2 when it could not start.
"""
import os
import sys
import time
import uuid
from datetime import UTC, datetime

from webapp.clients.close.client import CloseClient, CloseError, CloseNotFound, CloseRejected
from webapp.clients.close.ratelimit import parse_ratelimit

DEFAULT_API_URL = "https://api.close.com/api/v1"
BUILTIN_ROLES = ("admin", "superuser", "user", "restricteduser")
TEST_PHONE = "+12025550143"  # 555-01xx: reserved for fiction, never a real subscriber
NATIONAL_PHONE = "202-555-0144"
UNPARSEABLE_PHONE = "ext. 12"
CLOSE_FILE_PREFIX = "https://app.close.com/go/file/"


class Report:
    def __init__(self, out=None):
        self.out = out or (lambda line: print(line, flush=True))
        self.failed, self.differs, self.passed = [], [], 0

    def check(self, ok, tag, label, detail=""):
        self.out(f"{'✓' if ok else '✗'} [{tag}] {label}" + (f" — {detail}" if detail else ""))
        if ok:
            self.passed += 1
        elif tag == "D":
            self.failed.append(label)
        else:
            self.differs.append(label)
        return ok

    def info(self, label):
        self.out(f"  · {label}")

    def summary(self):
        self.out("")
        self.out(f"{self.passed} expectations held; {len(self.failed)} documented ones failed; "
                 f"{len(self.differs)} undocumented assumptions differ from this organization.")
        for label in self.failed:
            self.out(f"  ✗ fix before going live: {label}")
        for label in self.differs:
            self.out(f"  ✗ report to the Closeline team (real Close differs from our assumption): {label}")
        return 1 if self.failed else 0


class Recorder:
    """Keeps the last HTTP response of the client's session, for its headers."""

    def __init__(self, client):
        self.last = None
        client.session.hooks["response"].append(self._keep)

    def _keep(self, response, *args, **kwargs):
        self.last = response


def run(client, report, search_timeout=60.0, poll=1.0):
    recorder = Recorder(client)
    created = {}
    try:
        org_id, membership = _identity(client, report)
        if org_id is None:
            return report.summary()
        _organization(client, report, org_id)
        _rate_limit_headers(report, recorder)
        _roles(client, report, membership)
        _users(client, report)
        lead = _create_lead(client, report, created)
        if lead is not None:
            _phones(client, report, lead, created)
            _search(client, report, search_timeout, poll)
            _whatsapp(client, report, lead, created)
    except CloseError as exc:
        report.check(False, "D", "Close answered every call", f"stopped: {exc.message}")
    finally:
        _clean_up(client, report, created)
    _not_checked(report)
    return report.summary()


def _identity(client, report):
    me = client.me()
    report.check(bool(me.get("id") and me.get("email")), "D", "GET /me/ names the user", me.get("email", ""))
    memberships = me.get("memberships") or []
    orgs = [o.get("id") for o in me.get("organizations") or []] or [m.get("organization_id") for m in memberships]
    org_id = client.org_id or (orgs[0] if orgs else None)
    membership = next((m for m in memberships if m.get("organization_id") == org_id), None)
    if not report.check(membership is not None, "D", "GET /me/ lists the membership of the organization",
                        org_id or "no organization"):
        return None, None
    client.org_id = org_id
    report.check("permissions_granted" in membership and "role_id" in membership, "U",
                 "the membership carries role_id and permissions_granted", f"role_id={membership.get('role_id')}")
    return org_id, membership


def _organization(client, report, org_id):
    org = client.organization(org_id)
    statuses = org.get("lead_statuses") or []
    report.check(bool(statuses), "D", "GET /organization/{id}/ lists lead statuses",
                 f"{org.get('name')}: {', '.join(s.get('label', '?') for s in statuses)}")
    emails = [m.get("user_email") for m in org.get("memberships") or []]
    report.check(bool(emails) and all(emails), "D", "its memberships carry user_email (maps senders to Close users)",
                 f"{len(emails)} members")


def _roles(client, report, membership):
    role_id = membership.get("role_id")
    try:
        roles = client.roles()
    except CloseRejected as exc:
        report.check(False, "U", "GET /role/ lists roles (else permissions_granted decides)", exc.message)
        roles = []
    role = next((r for r in roles if r.get("id") == role_id), None)
    if roles:
        report.check(role is not None, "U", f"GET /role/ lists the user's role by its id ({role_id})",
                     ", ".join(r.get("id", "?") for r in roles))
    permissions = set(membership.get("permissions_granted") or []) | set((role or {}).get("permissions") or [])
    report.check("view_all_leads" in permissions, "D", "Lead Visibility = All Leads (view_all_leads)",
                 "the only Close permission Closeline needs; set it in Close under Settings → Roles")
    if role_id in BUILTIN_ROLES:
        try:
            client.role(role_id)
            refused, answered = False, "Close answers 200: the sandbox's strict mode is stricter than Close"
        except CloseRejected as exc:
            refused, answered = True, f"Close answers HTTP {exc.status}"
        report.check(refused, "U", f"GET /role/{role_id}/ (a built-in id) is refused as the strict sandbox assumes; "
                     "Closeline never calls it", answered)


def _rate_limit_headers(report, recorder):
    headers = recorder.last.headers if recorder.last is not None else {}
    value = headers.get("ratelimit")
    report.check(parse_ratelimit(value) is not None, "D", "responses carry `RateLimit: limit, remaining, reset`",
                 value or "header absent")
    if headers.get("ratelimit-reset") is not None:
        report.info(f"[U] a separate RateLimit-Reset header is sent too: {headers.get('ratelimit-reset')}")


def _users(client, report):
    users = client.users()
    report.check(bool(users) and all(u.get("email") for u in users), "D", "GET /user/ lists the organization's users",
                 f"{len(users)} users")


def _create_lead(client, report, created):
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    try:
        lead = client.create_lead(f"Closeline close-check {stamp} (test lead, safe to delete)",
                                  "Closeline close-check contact", TEST_PHONE)
    except CloseError as exc:
        report.check(False, "D", "POST /lead/ creates a lead with a contact and a phone", exc.message)
        return None
    created["lead"] = lead["id"]
    contact = (lead.get("contacts") or [{}])[0]
    report.check(bool(contact.get("id")), "D", "POST /lead/ creates a lead with a contact and a phone", lead["id"])
    phones = [p.get("phone") for p in contact.get("phones") or []]
    report.check(phones == [TEST_PHONE], "D", "the contact's phone comes back in E.164", ", ".join(map(str, phones)))
    return lead


def _phones(client, report, lead, created):
    """[U] how Close reads national and unparseable phones (close-api.md §4.3)."""
    body = {"lead_id": lead["id"], "name": "Closeline close-check phones",
            "phones": [{"phone": NATIONAL_PHONE, "type": "office"}, {"phone": UNPARSEABLE_PHONE, "type": "other"}]}
    try:
        contact = client.post("/contact/", json=body)
    except CloseRejected as exc:
        report.check(False, "U", "an unparseable phone is kept as typed", f"Close refused the contact: {exc.message}")
        return
    stored = [p.get("phone") for p in contact.get("phones") or []]
    national = stored[0] if stored else None
    report.check(bool(national and national.startswith("+")), "U",
                 f"a phone typed without country code ({NATIONAL_PHONE}) is read in the organization's country",
                 f"stored as {national}")
    report.check(UNPARSEABLE_PHONE in stored, "U", f"an unparseable phone ({UNPARSEABLE_PHONE!r}) is kept as typed",
                 f"stored: {stored}")


def _search(client, report, timeout, poll):
    started = time.monotonic()
    while True:
        found = client.search_contacts_by_phone(TEST_PHONE)
        waited = time.monotonic() - started
        if found or waited >= timeout:
            break
        time.sleep(poll)
    report.check(bool(found), "D", "POST /data/search/ finds the new contact by its E.164 phone",
                 f"after {waited:.1f} s" if found else f"not found within {timeout:.0f} s")
    report.info(f"[U] search index delay observed: {waited:.1f} s (Closeline waits SYNC_INDEX_GRACE before "
                "creating a lead again)")


def _whatsapp(client, report, lead, created):
    contact_id = lead["contacts"][0]["id"]
    try:
        url = client.upload_file("close-check.txt", "text/plain", b"Closeline close-check attachment\n")
    except CloseError as exc:
        report.check(False, "D", "POST /files/upload/ and the signed upload give a download url", exc.message)
        url = None
    if url:
        expected = CLOSE_FILE_PREFIX if "api.close.com" in client.api_url else "/go/file/"
        report.check(expected in url, "D", "POST /files/upload/ and the signed upload give a download url", url)
    external_id = f"closeline-close-check-{uuid.uuid4().hex[:12]}"
    payload = {"external_whatsapp_message_id": external_id, "lead_id": lead["id"], "contact_id": contact_id,
               "direction": "incoming", "activity_at": datetime.now(UTC).isoformat(),
               "local_phone": "+12025550100", "remote_phone": TEST_PHONE,
               "message_markdown": "Closeline close-check message (safe to delete)",
               "integration_link": "https://closeline.invalid/sync/?chat=0#message-0"}
    if url:
        payload["attachments"] = [{"url": url, "filename": "close-check.txt", "content_type": "text/plain"}]
    try:
        activity = client.create_whatsapp_activity(payload)
    except CloseError as exc:
        report.check(False, "D", "POST /activity/whatsapp_message/ creates the activity", exc.message)
        return
    created["activity"] = activity["id"]
    report.check(activity.get("external_whatsapp_message_id") == external_id and
                 activity.get("integration_link") == payload["integration_link"], "D",
                 "POST /activity/whatsapp_message/ creates the activity with its integration_link", activity["id"])
    report.check(len(activity.get("attachments") or []) == (1 if url else 0), "D", "the attachment is on the activity")
    report.info(f"[U] integration_name for this credential: {activity.get('integration_name')!r}")
    found = client.find_whatsapp_activities(external_id)
    report.check([a.get("id") for a in found] == [activity["id"]], "D",
                 "GET /activity/whatsapp_message/?external_whatsapp_message_id= finds it")
    updated = client.update_whatsapp_activity(activity["id"], {"message_markdown": "Closeline close-check (edited)"})
    report.check(updated.get("message_markdown") == "Closeline close-check (edited)", "D",
                 "PUT /activity/whatsapp_message/{id}/ edits it")
    _empty_markdown(client, report, payload, created)


def _empty_markdown(client, report, payload, created):
    body = dict(payload, external_whatsapp_message_id=payload["external_whatsapp_message_id"] + "-empty",
                message_markdown="")
    body.pop("attachments", None)
    try:
        extra = client.create_whatsapp_activity(body)
    except CloseRejected:
        report.check(True, "U", "an empty message_markdown is refused (media-only messages send '📎 name')")
        return
    created["extra_activity"] = extra["id"]
    report.check(False, "U", "an empty message_markdown is refused (media-only messages send '📎 name')",
                 "Close accepted it")


def _clean_up(client, report, created):
    for key in ("extra_activity", "activity"):
        if key in created:
            try:
                client.delete_whatsapp_activity(created[key])
                report.check(True, "D", f"DELETE /activity/whatsapp_message/{{id}}/ removes the test {key.replace('_', ' ')}")
            except CloseError as exc:
                report.check(False, "D", "DELETE /activity/whatsapp_message/{id}/", f"{created[key]}: {exc.message}")
    if "lead" in created:
        try:
            answer = client.delete(f"/lead/{created['lead']}/")
            try:
                client.get_lead(created["lead"])
                gone = False
            except CloseNotFound:
                gone = True
            report.check(answer == {} and gone, "D", "DELETE /lead/{id}/ removes the test lead", created["lead"])
        except CloseError as exc:
            report.check(False, "D", "DELETE /lead/{id}/ removes the test lead",
                         f"delete {created['lead']} by hand in Close: {exc.message}")


def _not_checked(report):
    report.info("[U] not exercised here (they would disturb the organization): token refresh and revocation "
                "errors, a deactivated user's user_id, send_to_inbox=true (adds an Inbox item), 429 bodies.")


def main(argv=None):
    key, token = os.environ.get("CLOSE_API_KEY"), os.environ.get("CLOSE_ACCESS_TOKEN")
    if not (key or token):
        print("Set CLOSE_API_KEY (Close → Settings → Developer → API Keys) of the user who will connect, "
              "or CLOSE_ACCESS_TOKEN; CLOSE_API_URL defaults to " + DEFAULT_API_URL, file=sys.stderr)
        return 2
    api_url = os.environ.get("CLOSE_API_URL") or DEFAULT_API_URL
    client = CloseClient(api_url, api_key=key, access_token=token,
                         timeout=float(os.environ.get("CLOSE_TIMEOUT", "20")))
    print(f"Checking {api_url} …", flush=True)
    try:
        return run(client, Report(), search_timeout=float(os.environ.get("CLOSE_CHECK_SEARCH_TIMEOUT", "60")))
    except CloseError as exc:
        print(f"✗ Close refused or could not be reached: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
