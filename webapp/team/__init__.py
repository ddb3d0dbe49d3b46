from flask import Blueprint

bp = Blueprint("team", __name__, url_prefix="/team")

from webapp.team import routes  # noqa: E402,F401
