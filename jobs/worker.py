"""The RQ worker class Closeline runs: `rq worker --worker-class jobs.worker.PreloadedWorker`.

RQ's default worker forks a child per job; building the Flask app once in the parent means every
child starts with it ready instead of paying imports and setup per job (the ORM's mappers are
configured in the parent too, not again in every child)."""
from rq.worker import Worker
from sqlalchemy.orm import configure_mappers

from webapp.core import logs
from webapp.jobs_app import job_app


class PreloadedWorker(Worker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        job_app()  # no connection is opened here: pools start empty in each child
        configure_mappers()

    # Lines about a job (its start, outcome, failure) carry its id and workspace (LOG_FORMAT=json).
    def execute_job(self, job, queue):
        with logs.job_fields(job):
            return super().execute_job(job, queue)

    def perform_job(self, job, queue, *args, **kwargs):
        with logs.job_fields(job):
            return super().perform_job(job, queue, *args, **kwargs)
