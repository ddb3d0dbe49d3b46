from flask import Blueprint

bp = Blueprint("graph", __name__, url_prefix="/graph")
