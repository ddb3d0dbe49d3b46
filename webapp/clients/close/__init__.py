"""The Close CRM client: typed outcomes (errors), rate pacing (ratelimit), OAuth (oauth), the
one door to a workspace's credentials (tokens), what the connecting user may do (checks)."""
