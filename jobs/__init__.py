"""RQ job functions. Each takes ids, loads rows inside an app context and calls a service."""
