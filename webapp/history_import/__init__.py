"""History import (owner/admin): dry run, then the import itself fed to the outbox in slices."""
