"""Dramatiq broker and actors. `broker` is imported first so actors never bind a default broker."""

from devmetrics_app.jobs import broker as broker
