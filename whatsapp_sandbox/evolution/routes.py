from flask import Blueprint

bp = Blueprint("evolution", __name__, url_prefix="/evolution")
