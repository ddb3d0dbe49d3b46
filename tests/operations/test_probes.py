"""/healthz and /readyz as an orchestrator sees them: status codes and the one word per dependency."""
from tests.helpers.servers import free_port
from tests.helpers.workers import stop_worker


def _readyz(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def _app_with(app, **overrides):
    from webapp import create_app
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "RATELIMIT_STORAGE_URI")}
    config.update(overrides)
    return create_app("testing", config)


def test_healthz_answers_while_every_dependency_is_down(app):
    broken = _app_with(app, SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none",
                       REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_ready_with_database_redis_a_real_worker_and_migrations_at_head(app, stamp, worker):
    stamp("heads")
    assert _readyz(app) == (200, {"status": "ready"})


def test_a_stopped_worker_makes_it_not_ready(app, stamp, worker):
    stamp("heads")
    stop_worker(worker)
    assert _readyz(app) == (503, {"status": "not ready", "not_ready": ["worker"]})


def test_no_worker_heartbeat_is_not_ready(app, stamp):
    stamp("heads")
    assert _readyz(app) == (503, {"status": "not ready", "not_ready": ["worker"]})


def test_database_down_is_named(app, stamp, registered_worker):
    stamp("heads")
    broken = _app_with(app, SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    assert _readyz(broken) == (503, {"status": "not ready", "not_ready": ["database"]})


def test_redis_down_is_named(app, stamp, registered_worker):
    stamp("heads")
    broken = _app_with(app, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert _readyz(broken) == (503, {"status": "not ready", "not_ready": ["redis"]})


def test_migrations_behind_head_are_named(app, stamp, registered_worker):
    script = stamp("heads")
    head = script.get_revision(next(iter(script.get_heads())))
    stamp(head.down_revision if isinstance(head.down_revision, str) else head.down_revision[0])
    assert _readyz(app) == (503, {"status": "not ready", "not_ready": ["migrations"]})


def test_never_migrated_database_is_named(app, registered_worker):
    assert _readyz(app) == (503, {"status": "not ready", "not_ready": ["migrations"]})


def test_the_answer_tells_nothing_but_the_names(app, stamp, registered_worker):
    stamp("heads")
    broken = _app_with(app, SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://secret-user:secret-pw@127.0.0.1:{free_port()}/db")
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert b"secret" not in response.data and b"127.0.0.1" not in response.data
    assert response.get_json() == {"status": "not ready", "not_ready": ["database"]}
