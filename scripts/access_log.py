"""The access log of `make run` (gunicorn's --logger-class): the path only, never the query string
(OAuth codes and webhook verify tokens travel there), and invitation links masked — their token is
a password for whoever reads the log."""
import re

from gunicorn.glogging import Logger

_INVITE = re.compile(r"^(/auth/invite/)[^/?]+")


def mask(path):
    return _INVITE.sub(r"\1***", path or "")


class MaskedAccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = mask(atoms.get("U"))
        atoms.update({"U": path, "q": "", "r": f"{atoms.get('m', '-')} {path} {atoms.get('H', '-')}",
                      "f": "-", "{referer}i": "-",   # the Referer may be an invitation link too
                      "{path_info}e": path, "{raw_uri}e": path, "{query_string}e": "", "{http_referer}e": "-"})
        return atoms
