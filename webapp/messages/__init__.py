"""The sync engine (PRODUCT.md §3), the one road every message takes:
ingest.accept → outbox → drain/pool → deliver → routing → payload → Close activity.

gate (privacy rules and redaction settings, applied here for every path), edits, moves, actions
(holds, retries, re-route), scheduler/sweeper (drain jobs), states, totals, search."""
