"""AI risk review: diff selection, redaction, the deterministic risk floor, the prompt, the Claude
client and sanitising its answer. Publishing to GitHub and storage live elsewhere; this package
turns a pull request's files into an `Analysis`.

Entry points: `analysis.analyse_pull_request`, `claude.make_client` + `claude.ClaudeReviewer`,
`claude.check_model` (start-up).
"""
