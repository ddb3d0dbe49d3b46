"""The dashboard (blueprint `main` at /): totals, the hourly chart and each number's health."""
