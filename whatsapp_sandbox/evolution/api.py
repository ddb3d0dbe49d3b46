"""The Evolution API blueprint (/evolution): the guard order (instance exists → name in use on
create → apikey), the outage switch, Evolution's error envelope and shared helpers."""
import re
from http import HTTPStatus

from flask import Blueprint, current_app, jsonify, request

from ..core import sandbox
from ..world import WorldError

bp = Blueprint("evolution", __name__, url_prefix="/evolution")
NO_INSTANCE = {("instance", "create"), ("instance", "fetchInstances")}
# What 2.4.0's licence gate lets through before activation (evolution-api.md §12.3).
LICENSE_FREE = ("/evolution/license/", "/evolution/manager", "/evolution/health", "/evolution/server/ok")
INSTANCE_PATH = re.compile(r"^/evolution/([A-Za-z]+)/([A-Za-z0-9]+)(?:/([^/]+))?/?$")


class EvoError(Exception):
    def __init__(self, status: int, message):
        super().__init__(str(message))
        self.status, self.message = status, message


@bp.errorhandler(EvoError)
def _evo_error(exc):
    return jsonify({"status": exc.status, "error": HTTPStatus(exc.status).phrase,
                    "response": {"message": exc.message}}), exc.status


@bp.errorhandler(WorldError)
def _world_error(exc):
    return _evo_error(EvoError(exc.status, [exc.message]))


def facade():
    return sandbox().facade("evolution")


@bp.before_request
def _guard():
    sb = sandbox()
    if sb.api_down.get("evolution"):
        return jsonify({"status": sb.api_down["evolution"], "error": "Service Unavailable",
                        "response": {"message": ["sandbox outage"]}}), sb.api_down["evolution"]
    if facade().gated and not request.path.startswith(LICENSE_FREE):
        return jsonify(_license_required(sb)), 503
    match = INSTANCE_PATH.match(request.path)
    if request.path in ("/evolution", "/evolution/") or match is None:
        return None
    controller, action, name = match.groups()
    with sb.world.lock:
        instances = sb.world.evo_instances
        if (controller, action) not in NO_INSTANCE and name is not None and name not in instances:
            raise EvoError(404, [f'The "{name}" instance does not exist'])
        if (controller, action) == ("instance", "create"):
            body = request.get_json(silent=True) or {}
            if isinstance(body, dict) and body.get("instanceName") in instances:
                raise EvoError(403, [f'This name "{body["instanceName"]}" is already in use.'])
        key = request.headers.get("apikey")
        if not key:
            raise EvoError(401, "Unauthorized")
        if key == current_app.config["EVOLUTION_API_KEY"]:
            return None
        if name is not None and name in instances and instances[name].token == key:
            return None
        if (controller, action) == ("instance", "fetchInstances") and any(i.token == key for i in instances.values()):
            return None
        raise EvoError(401, "Unauthorized")


def _license_required(sb) -> dict:
    return {"error": "service not activated", "code": "LICENSE_REQUIRED",
            "register_url": f"{sb.public_url}/evolution/manager/login", "instance_id": "sandbox-server",
            "docs_url": "https://doc.evolution-api.com",
            "message": "This Evolution API server needs its licence activated before it serves requests."}


@bp.get("/license/status")
def license_status():
    return jsonify({"status": "active" if facade().licensed else "inactive"})


@bp.post("/license/activate")
def license_activate():
    """The operator activates the licence (the global key doubles as the licence key in 2.4.0)."""
    if request.headers.get("apikey") != current_app.config["EVOLUTION_API_KEY"]:
        raise EvoError(401, "Unauthorized")
    facade().licensed = True
    return jsonify({"status": "active"})


def body_json() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise EvoError(400, ["Send a JSON object body"])
    return body


def instance_or_404(name):
    return sandbox().world.evo_instances[name]


@bp.get("/")
def welcome():
    return jsonify({"status": 200, "message": "Welcome to the Evolution API, it is working!",
                    "version": current_app.config["EVOLUTION_VERSION"],
                    "clientName": "evolution_exchange", "manager": f"{sandbox().public_url}/evolution/manager",
                    "documentation": "https://doc.evolution-api.com", "whatsappWebVersion": "2.3000.1030614401"})


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "DELETE"])
def not_found(anything):
    raise EvoError(404, [f"Cannot {request.method} /{anything}"])
