"""Gateways of a workspace: add, test the connection, remove. Owner/admin only (checked by views)."""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from webapp.clients.gateways import http as gateway_http
from webapp.clients.gateways import registry
from webapp.clients.gateways.base import REFUSED, UNSENDABLE_KEY, GatewayError
from webapp.clients.gateways.registry import client_for_kind
from webapp.core import crypto
from webapp.core.extensions import db
from webapp.core.redis_conn import get_queue, job_alive
from webapp.models import Gateway, JobRun, NumberLink, utcnow

# When a connection test fails; each kind says `unauthorized` and `not_gateway` in its own words.
# A test tells one of these fixed outcomes, never the remote answer's body or an error's text: an
# admin's URL must not turn "Test connection" into a reader of the app's neighbours.
UNREACHABLE = ("Closeline cannot reach the gateway at this URL. Check the address and that the gateway "
               "is running. A gateway on a private address needs its host:port in the operator's "
               "GATEWAY_ALLOWED_HOSTS setting.")
NOT_GATEWAY = "This server does not answer like a gateway. Check the base URL."
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,39}$")
# Header-safe: printable ASCII without spaces (a key is sent as an HTTP header on every call).
_API_KEY = re.compile(r"^[\x21-\x7e]{1,300}$")


class InvalidGateway(ValueError):
    def __init__(self, errors):
        super().__init__("invalid gateway")
        self.errors = errors


def client_for(gateway):
    return client_for_kind(gateway.kind, gateway.base_url, crypto.decrypt(gateway.api_key_enc))


def clean_base_url(raw):
    url = (raw or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidGateway({"base_url": "Give the gateway's address with http:// or https://."})
    if parts.query or parts.fragment or parts.username:
        raise InvalidGateway({"base_url": "The base URL must not carry a query, fragment or credentials."})
    try:
        gateway_http.check_url(url)
    except gateway_http.GatewayRefused:
        raise InvalidGateway({"base_url": REFUSED}) from None
    except gateway_http.GatewayUnreachable:
        pass  # a name that does not resolve yet; every call checks the address again
    return url


def clean_api_key(raw):
    """The key as sent in a header, or None; InvalidGateway for what no header can carry."""
    key = (raw or "").strip()
    if not key:
        return None
    if not _API_KEY.match(key):
        raise InvalidGateway({"api_key": "The API key may hold only letters, digits and ASCII punctuation "
                                         "(no spaces or other characters), at most 300."})
    return key


def add_gateway(workspace_id, *, name, base_url, api_key, kind=registry.DEFAULT_KIND, created_by=None):
    errors = {}
    if kind not in registry.KINDS:
        errors["kind"] = "Choose " + " or ".join(label for _, label in registry.choices()) + "."
    if not (name or "").strip():
        errors["name"] = "Give the gateway a name."
    url = key = None
    try:
        url = clean_base_url(base_url)
    except InvalidGateway as exc:
        errors.update(exc.errors)
    try:
        key = clean_api_key(api_key)
    except InvalidGateway as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidGateway(errors)
    gateway = Gateway(workspace_id=workspace_id, kind=kind, name=name.strip()[:80], base_url=url,
                      api_key_enc=crypto.encrypt(key) if key else None,
                      created_by_id=created_by.id if created_by else None)
    db.session.add(gateway)
    db.session.commit()
    return gateway


def test_connection(gateway):
    """Ask the gateway for its version and sessions; records the outcome on the row.
    Returns (ok, message)."""
    try:
        info = client_for(gateway).server_info()
    except GatewayError as exc:
        gateway.last_error = UNSENDABLE_KEY if exc.message == UNSENDABLE_KEY else \
            failed_test_message(gateway.kind, exc.kind)
        gateway.last_checked_at = utcnow()
        db.session.commit()
        return False, gateway.last_error
    version = info.version if _VERSION.match(str(info.version or "")) else "(unknown version)"
    gateway.version, gateway.single_session = version, info.single_session
    gateway.last_error, gateway.last_checked_at = None, utcnow()
    db.session.commit()
    count = len([n for n in info.sessions if n]) or "none"
    note = " It serves only the session 'default' (one number)." if info.single_session else ""
    kind = registry.KINDS[gateway.kind]
    return True, f"Connected: {kind.label} {version}, {kind.accounts_word}: {count}.{note}"


def failed_test_message(kind_name, error_kind):
    """One of the fixed outcomes of a failed test: unauthorized, not a gateway, unreachable."""
    hints = registry.KINDS[kind_name].setup_hints if kind_name in registry.KINDS else {}
    if error_kind == "unauthorized":
        return hints.get("unauthorized") or "The gateway refused the API key."
    if error_kind in ("unreachable", "refused"):
        return UNREACHABLE
    if error_kind in hints:
        return hints[error_kind]
    return hints.get("not_gateway") or NOT_GATEWAY


TEST_JOB = "jobs.whatsapp.test_gateway"
TEST_KIND = "gateway_test"
TEST_STALLED_AFTER = timedelta(seconds=30)  # a pending test whose job vanished is written off after this


def test_job_id(gateway_id):
    return f"gateway-test-{gateway_id}"


def latest_test(gateway):
    """The gateway's last connection test (a JobRun), after writing off one whose job is gone."""
    run = db.session.scalar(sa.select(JobRun).where(JobRun.kind == TEST_KIND,
                                                    JobRun.rq_job_id == test_job_id(gateway.id))
                            .order_by(JobRun.id.desc()).limit(1))
    if run is not None and run.is_running and run.created_at < utcnow() - TEST_STALLED_AFTER \
            and not job_alive(run.rq_job_id):
        _finish_test(run, "failed", "The test stopped without an answer (a worker restarted?). Test again.")
    return run


def request_test(gateway, user=None):
    """Test connection, asked for: a job asks the gateway (which may be slow or down) while the
    gateway's card polls the JobRun. A test already waiting or running is reused."""
    run = latest_test(gateway)
    if run is not None and run.is_running:
        return run
    run = JobRun(workspace_id=gateway.workspace_id, kind=TEST_KIND, rq_job_id=test_job_id(gateway.id),
                 status="queued", message="Testing the connection…", result={"gateway_id": gateway.id},
                 started_by_id=user.id if user is not None else None)
    db.session.add(run)
    db.session.commit()  # before enqueueing: the worker must find the row
    get_queue().enqueue(TEST_JOB, run.id, job_id=run.rq_job_id, job_timeout=120, result_ttl=60, failure_ttl=3600,
                        description=f"connection test of gateway {gateway.id}")
    return run


def run_test(run_id):
    """The job: one connection test, its answer on the JobRun (and on the gateway row)."""
    run = db.session.get(JobRun, run_id)
    if run is None or not run.is_running:
        return "gone"
    gateway = db.session.get(Gateway, (run.result or {}).get("gateway_id"))
    if gateway is None:
        return _finish_test(run, "failed", "The gateway was removed.")
    run.status = "running"
    db.session.commit()
    ok, message = test_connection(gateway)
    return _finish_test(run, "finished" if ok else "failed", message)


def _finish_test(run, status, message):
    run.status, run.message, run.finished_at = status, message, utcnow()
    db.session.commit()
    return status


def remove_gateway(gateway):
    """Best effort: end its sessions on the server; its links go, numbers and messages stay."""
    client = client_for(gateway)
    for link in list(gateway.links):
        try:
            client.logout_and_delete(link.session_name)
        except GatewayError:
            pass  # the gateway may be gone for good; removing it here must still work
    db.session.delete(gateway)
    db.session.commit()


def gateways_of(workspace_id):
    return db.session.scalars(sa.select(Gateway).where(Gateway.workspace_id == workspace_id)
                              .order_by(Gateway.id)).all()


def links_of(workspace_id):
    return db.session.scalars(sa.select(NumberLink).where(NumberLink.workspace_id == workspace_id)
                              .order_by(NumberLink.id)).all()
