"""Real `rq worker` processes: the one launcher, and a pool whose workers a test can SIGKILL."""
import os
import signal
import subprocess
import sys
import uuid

import psutil
import redis

from tests.helpers.paths import ROOT
from tests.helpers.waiting import wait_for

FERNET_KEY = "l5Ohc7e6B9G0N8x0q3lJ2hS9iTqY4c2sVqf7mFZt0ZQ="


def start_worker(app, database_url, redis_url, name=None):
    """The one worker launcher: a real `rq worker` process (forking, with scheduler) with the app's
    Close, sync and gateway settings, returned once it is registered in Redis (ready to take jobs)."""
    from rq import Worker
    env = dict(os.environ)
    env.update({
        "FLASK_CONFIG": "development",
        "SECRET_KEY": "test-secret-key",
        "TOKEN_ENCRYPTION_KEY": FERNET_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PYTHONPATH": ROOT,
    })
    for key, value in app.config.items():
        if key.startswith(("CLOSE_", "SYNC_", "GATEWAY_")) and isinstance(value, (str, int, float)):
            env[key] = str(value)
    name = name or f"test-worker-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--worker-class",
         "jobs.worker.PreloadedWorker", "--url", redis_url, "--name", name,
         "--logging_level", "WARNING", app.config["RQ_QUEUE"]],
        cwd=ROOT, env=env)
    connection = redis.Redis.from_url(redis_url)
    wait_for(lambda: proc.poll() is not None or any(w.name == name for w in Worker.all(connection=connection)),
             timeout=120, message="the RQ worker to register")
    assert proc.poll() is None, "the RQ worker exited at start"
    return proc


def stop_worker(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def descendants(pid):
    """Pids of a worker's children (RQ's work horse runs in its own session)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class Workers:
    """Real `rq worker` processes we can SIGKILL (the shared `worker` fixture starts only one)."""

    def __init__(self, app, database_url, redis_url):
        self.app, self.database_url, self.redis_url, self.procs = app, database_url, redis_url, []

    def start(self):
        proc = start_worker(self.app, self.database_url, self.redis_url)
        self.procs.append(proc)
        return proc

    def kill(self, proc):
        """SIGKILL the worker and its work horse (RQ forks the horse into its own session)."""
        for pid in [proc.pid] + descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                for pid in descendants(proc.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except Exception:
                    proc.kill()


def run_queued(func_name):
    """Run, here and now, the queued jobs of one kind (what a worker would do with them), oldest
    first; returns their results. For jobs whose test fakes live in this process (requests_mock,
    an in-memory history source)."""
    from webapp.core.redis_conn import get_queue
    queue = get_queue()
    results = []
    for job in [j for j in queue.jobs if j.func_name == func_name]:
        queue.remove(job)
        results.append(job.func(*job.args, **job.kwargs))
    assert results, f"no {func_name} job was queued"
    return results
