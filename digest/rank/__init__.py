"""Rank: unsent stories, the ranking settings and the clock in; an `Edition` out (sections of
story clusters, each with its score's components). Pure: no database, network or file."""
