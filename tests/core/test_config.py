"""Configuration: ports from the environment, production's refusals."""
import pytest


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    from config import ProductionConfig
    from webapp import create_app
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app("production")


def test_ports_follow_web_port_and_sandbox_port():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import config; c = config.Config; print(c.PUBLIC_URL, "
                          "c.CLOSE_REDIRECT_URI, c.CLOSE_API_URL)"],
                         env={"WEB_PORT": "8123", "SANDBOX_PORT": "8150", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True, cwd=__file__.rsplit("/tests/", 1)[0]).stdout
    assert out.split() == ["http://127.0.0.1:8123", "http://127.0.0.1:8123/integrations/close/callback",
                           "http://127.0.0.1:8150/api/v1"]
