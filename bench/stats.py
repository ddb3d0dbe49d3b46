"""Small statistics helpers of the benchmarks."""


def pct(values, p):
    """The p-th percentile (nearest rank) of values; NaN when there are none."""
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]
