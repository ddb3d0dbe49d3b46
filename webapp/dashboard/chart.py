"""Geometry of the dashboard's stacked bar chart, drawn as inline SVG by dashboard/partials/_chart.html.

Pure functions of the hourly counts: no JavaScript, nothing fetched by the browser.
"""
import math

from webapp.dashboard.stats import SERIES

WIDTH, HEIGHT = 860, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 28
COLORS = {"synced": "#198754", "skipped": "#adb5bd", "failed": "#dc3545", "dead": "#212529"}
# A day's label is about 40 units wide: a partial day (the first, the last) is labelled only when
# it is wide enough for it (else "Fri 27Sat 28", or a label cut off at the right edge).
LABEL_WIDTH = 42


def nice_ceiling(value):
    """The smallest 1/2/5 × 10^k at or above value (at least 1): round numbers on the axis."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def stacked_bars(hours):
    """hours: stats.hourly_outcomes(...). Returns everything the template draws."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((sum(h[s] for s in SERIES) for h in hours), default=0))
    slot = plot_w / max(len(hours), 1)
    bars, days = [], []
    for index, hour in enumerate(hours):
        x = LEFT + index * slot
        room = min(24 - hour["hour"].hour, len(hours) - index) * slot  # until the next label or the edge
        if (hour["hour"].hour == 0 or index == 0) and room >= LABEL_WIDTH:
            days.append({"x": round(x, 1), "label": hour["hour"].strftime("%a %d")})
        base = TOP + plot_h
        segments = []
        for series in SERIES:
            height = plot_h * hour[series] / top
            if hour[series]:
                base -= height
                segments.append({"series": series, "y": round(base, 2), "h": round(height, 2),
                                 "color": COLORS[series]})
        if segments:
            bars.append({"x": round(x + slot * 0.1, 2), "w": round(max(slot * 0.8, 1), 2), "segments": segments,
                         "title": f"{hour['hour'].strftime('%a %d %b %H:00')} UTC: "
                                  + ", ".join(f"{hour[s]} {s}" for s in SERIES)})
    grid = [{"y": round(TOP + plot_h - plot_h * f, 1), "label": str(int(top * f))}
            for f in (0, 0.5, 1) if float(top * f).is_integer()]  # whole messages only: no "2.5" line
    totals = {s: sum(h[s] for h in hours) for s in SERIES}
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "bottom": TOP + plot_h,
            "bars": bars, "days": days, "grid": grid, "totals": totals, "colors": COLORS, "series": SERIES,
            "empty": not any(totals.values())}

