"""The WAHA blueprint (/waha): API-key auth, outage switch, NestJS error bodies, and the helpers the
route modules share (session lookup, status waiting, query parsing, chat-id resolution)."""
import base64
import hashlib
import hmac
import time
from http import HTTPStatus
from urllib.parse import unquote

from flask import Blueprint, current_app, jsonify, request

from ..core import sandbox
from ..world import WorldError

bp = Blueprint("waha", __name__, url_prefix="/waha")


class WahaError(Exception):
    def __init__(self, status: int, body):
        super().__init__(str(body))
        self.status, self.body = status, body


def nest(status: int, message) -> WahaError:
    return WahaError(status, {"message": message, "error": HTTPStatus(status).phrase, "statusCode": status})


def status_mismatch(session, expected) -> WahaError:
    return WahaError(422, {"error": "Session status is not as expected. Try again later or restart the session",
                           "session": session.name, "status": session.status, "expected": expected})


@bp.errorhandler(WahaError)
def _waha_error(exc):
    return jsonify(exc.body), exc.status


@bp.errorhandler(WorldError)
def _world_error(exc):
    return jsonify({"message": exc.message, "error": HTTPStatus(exc.status).phrase, "statusCode": exc.status}), exc.status


# --- auth and outage ----------------------------------------------------------------------------


def key_matches(presented: str, configured: str) -> bool:
    if configured.startswith("sha512:"):
        digest = hashlib.sha512(presented.encode()).hexdigest()
        return hmac.compare_digest(digest, configured[len("sha512:"):].lower())
    return hmac.compare_digest(presented.encode(), configured.encode())


@bp.before_request
def _guard():
    sb = sandbox()
    if sb.api_down.get("waha"):
        return jsonify({"message": "Service Unavailable (sandbox outage)", "statusCode": 503}), sb.api_down["waha"]
    path = request.path[len("/waha"):]
    if not (path.startswith("/api/") or path == "/health"):
        return None
    presented = request.headers.get("X-Api-Key") or request.args.get("x-api-key") or ""
    if not presented or not key_matches(presented, current_app.config["WAHA_API_KEY"]):
        return jsonify({"message": "Unauthorized", "statusCode": 401}), 401
    return None


def body_json() -> dict:
    body = request.get_json(silent=True)
    if body is None and request.data:
        raise nest(400, ["Body must be JSON"])
    if body is not None and not isinstance(body, dict):
        raise nest(400, ["Body must be a JSON object"])
    return body or {}


# --- sessions ---------------------------------------------------------------------------------


def single_session() -> bool:
    return current_app.config["WAHA_SINGLE_SESSION"]


def only_default(name: str):
    if single_session() and name != "default":
        encoded = base64.b64encode(name.encode()).decode()
        raise nest(422, f"WAHA Core support only 'default' session. You tried to access '{name}' session "
                        f"(base64: {encoded}). If you want to run more then one WhatsApp account - please get "
                        "WAHA PLUS version.")


def session_or_404(name: str):
    only_default(name)
    session = sandbox().world.waha_sessions.get(name)
    if session is None:
        raise nest(404, "Session not found")
    return session


def facade():
    return next(f for f in sandbox().facades if f.name == "waha")


# --- status-waiting routes ------------------------------------------------------------------------


def wait_for_status(name: str, expected: list):
    """Like WAHA: poll every 500 ms for up to WAHA_WAIT_SECONDS, then 422."""
    sb = sandbox()
    deadline = time.time() + current_app.config["WAHA_WAIT_SECONDS"]
    while True:
        with sb.world.lock:
            only_default(name)
            session = sb.world.waha_sessions.get(name)
            if session is None:
                raise WahaError(422, {"error": f'Session "{name}" does not exist', "session": name})
            if session.status in expected:
                return
            if time.time() >= deadline:
                raise status_mismatch(session, expected)
        time.sleep(0.5)


def session_in(name: str, expected: list):
    """Call with world.lock held, after wait_for_status (which must not run under the lock)."""
    session = sandbox().world.waha_sessions.get(name)
    if session is None or session.status not in expected:
        if session is None:
            raise WahaError(422, {"error": f'Session "{name}" does not exist', "session": name})
        raise status_mismatch(session, expected)
    return session


# --- query arguments and chat ids ---------------------------------------------------------------------


def int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise nest(400, [f"{name} must be an integer number"])
    if value < 0:
        raise nest(400, [f"{name} must not be less than 0"])
    return value


def bool_arg(name: str, default):
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() not in ("true", "false"):
        raise nest(400, [f"{name} must be a boolean value"])
    return raw.lower() == "true"


def peer_of(world, chat: str, merge: bool = True):
    """Resolve a chat id to the other person; with merge, '@c.us' and '@lid' of one person agree."""
    chat = unquote(chat)
    local, _, server = chat.partition("@")
    if server == "lid":
        phone = world.phone_by_lid(local)
        if phone and (merge or phone.lid_only):
            return phone
        return None
    if server in ("", "c.us", "s.whatsapp.net"):
        phone = world.phone_by_digits(local.split(":")[0])
        if phone and (merge or not phone.lid_only):
            return phone
    return None


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def not_found(anything):
    raise nest(404, f"Cannot {request.method} /{anything}")
