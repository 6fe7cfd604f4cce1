"""Audience: subscriber lists, tokens and preferences in; a stream of `Subscriber` values out,
and the reader-facing web (unsubscribe, preferences, archive). Only POST changes state."""
