"""Feeds: the SSE event feed client, its loopback server, lockdown, market data freshness."""
