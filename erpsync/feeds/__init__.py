"""Feeds: a source's raw bytes to records (CSV, JSON, JSON Lines, XML)."""
