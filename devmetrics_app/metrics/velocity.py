"""Moved to `metrics.calc.velocity`: this alias stays while rollups.py and web/dashboard/* import it
from here (their owners update them, then it goes)."""

from .calc.velocity import *  # noqa: F403
