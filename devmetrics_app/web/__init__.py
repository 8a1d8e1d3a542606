"""The aiohttp application: webhook endpoint, health, and (later) auth, API and pages."""
