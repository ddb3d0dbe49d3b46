"""The Flask app used inside RQ jobs (one per worker process, created on first use)."""
_app = None


def job_app():
    global _app
    if _app is None:
        from webapp import create_app
        _app = create_app()
    return _app
