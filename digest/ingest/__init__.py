"""Ingest: the feeds the config names in; per feed a `FetchResult`, then clean `Story` values or
one failure that names the feed. Fetching (httpx), bytes to text, parsing (a fast expat path and
feedparser), JSON Feed, HTML sanitizing and dates. Imports only the shared vocabulary."""
