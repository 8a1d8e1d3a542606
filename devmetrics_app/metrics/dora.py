"""Moved to `metrics.calc.dora`: this alias stays while rollups.py and web/dashboard/* import it
from here (their owners update them, then it goes)."""

from .calc.dora import *  # noqa: F403
