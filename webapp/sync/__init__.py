"""Sync engine (PRODUCT.md §3): ingestion → outbox → routing → Close WhatsApp activities.

ingest (the one entry point), schema (the API's models), outbox (leases, results), deliver (one
message), payload (activity + attachments), drain (batches), scheduler/sweeper (drain jobs),
actions (holds, retries, re-route), totals, message_log, test_runs, moves. The status page
(blueprint `sync` at /sync) is views.py.
"""
