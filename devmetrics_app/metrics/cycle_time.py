"""Moved to `metrics.calc.cycle_time`: this alias stays while rollups.py and web/dashboard/* import it
from here (their owners update them, then it goes)."""

from .calc.cycle_time import *  # noqa: F403
