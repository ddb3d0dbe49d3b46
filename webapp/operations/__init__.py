"""Operations: the probes an orchestrator points at (/healthz, /readyz), the Prometheus exposition
(/metrics) and `flask doctor`."""
