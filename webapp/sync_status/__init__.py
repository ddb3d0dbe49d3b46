"""The sync status page (blueprint `sync` at /sync): the message log, search, review queue and
the owner/admin actions on it."""
