"""Publishing the AI risk review: when it runs, what it reads through the API, what it stores and
costs, and the check run and sticky comment it leaves on the pull request.

`ai/` turns files into an `Analysis`; this package decides *whether* to ask (triggers, debounce,
config, skip rules, budget), remembers the answer (`ledger`) and tells GitHub (`checks`,
`comment`). `runner.run_analysis` is the one entry point the jobs call.
"""
