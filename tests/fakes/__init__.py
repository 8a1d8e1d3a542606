"""Fake outside services (GitHub, Anthropic, Slack, Discord) that speak the real wire format.

Each is a small aiohttp application; tests run it on loopback and point the real client
library at its URL.
"""
