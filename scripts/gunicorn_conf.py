"""gunicorn settings of the container's web role (`gunicorn -c python:scripts.gunicorn_conf wsgi:app`).

Everything can be changed with gunicorn's own GUNICORN_CMD_ARGS. The access log has the path
only (scripts/access_log.py masks invitation tokens and drops query strings); with LOG_FORMAT=json
gunicorn's error and access lines are JSON objects like the app's (webapp/core/logs.py)."""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 60
limit_request_line = 8190
# gunicorn trusts no X-Forwarded-* by itself (its default trusts 127.0.0.1): TRUSTED_PROXIES decides.
forwarded_allow_ips = ""
accesslog = "-"
errorlog = "-"
logger_class = "scripts.access_log.MaskedAccessLogger"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'

if os.environ.get("LOG_FORMAT", "text").strip().lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "webapp.core.logs.ContextFilter"}},
        "formatters": {"json": {"()": "webapp.core.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"],
                                "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        },
    }
