"""Notifications: rules that say who hears about what, and the channels that carry it.

Event-driven rules are evaluated by `evaluate` (from webhook follow-up jobs), time-based ones by
`scheduler`; both claim a send per (rule, channel, subject, window) in `dedupe` before anything
leaves, and `delivery` sends it with retries, logging every attempt.
"""
