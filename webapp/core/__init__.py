"""App-wide plumbing below the models: extensions, crypto, phones, urls, Redis, the guarded
outbound fetcher, security headers, input checks, signals and deployment checks. Imports nothing
of ours but config."""
