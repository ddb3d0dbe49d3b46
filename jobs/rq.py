"""`python -m jobs.rq worker …` / `python -m jobs.rq cron …`: RQ's own command line, with
Closeline's log format (LOG_FORMAT) set up before RQ writes its first line, so every line of a
worker or cron process has one shape (JSON objects with LOG_FORMAT=json)."""
import sys

from rq.cli import main

from config import Config
from webapp.core import logs

if __name__ == "__main__":
    logs.configure(Config.LOG_FORMAT)
    sys.exit(main())
