"""Whether GitHub can reach PUBLIC_URL, judged from the URL alone (no DNS lookup, no request).

The setup page registers an app whose webhook URL is PUBLIC_URL's: if GitHub cannot reach it,
registration succeeds but not one webhook ever arrives, and nothing says why. A loopback address
is unreachable from any other machine; a private address or an intranet-only name is unreachable
from github.com, though a GitHub Enterprise Server on the same network may reach it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

GITHUB_COM = "https://github.com"
# Names that only resolve inside a machine or a local network.
LOOPBACK_NAMES = ("localhost",)
LOCAL_SUFFIXES = (".localhost", ".local", ".lan", ".internal", ".home.arpa", ".intranet", ".corp")


@dataclass(frozen=True)
class Unreachable:
    host: str
    reason: str
    loopback: bool  # unreachable even from a GitHub Enterprise Server on the same network


def unreachable_from_github(public_url: str, *, github_url: str = GITHUB_COM) -> Unreachable | None:
    """Why GitHub at `github_url` cannot deliver webhooks to `public_url`, or None if it may."""
    host = (urlsplit(public_url).hostname or "").lower().rstrip(".")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return Unreachable(host, "a name for this machine only", loopback=True)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and (address.is_loopback or address.is_unspecified):
        return Unreachable(host, "a loopback address: this machine only", loopback=True)
    if github_url.rstrip("/") != GITHUB_COM:
        return None  # GitHub Enterprise Server may well sit on the same private network
    if address is not None and (address.is_private or address.is_link_local or address.is_reserved):
        return Unreachable(host, "a private network address", loopback=False)
    if address is None and ("." not in host or host.endswith(LOCAL_SUFFIXES)):
        return Unreachable(host, "a name only your local network knows", loopback=False)
    return None
