"""AI review cost: model calls and input tokens per pull request, ours beside a naive reviewer.

Replays a set of varied pull requests (tiny, typical with a second push, huge, draft, bot,
rebased duplicate) against the fake Anthropic Messages API of the test suite (on loopback),
through the real `anthropic` SDK:

* ours  -- the review's real decisions: `review.runner.skip_reason` (drafts, bots, config),
           the ledger's key (`review.ledger.diff_hash`; an in-memory set stands in for the
           unique index of `ai_reviews`, so a known diff is not sent again), and
           `ai.analysis.analyse_pull_request` with `ClaudeReviewer` (diff fitted to the budget);
* naive -- every push, the whole diff (every file's patch) in one request, no skipping.

Input tokens are what the fake reports (`input_tokens` + cache reads/writes; ~4 characters a
token), so both sides are counted the same way. The budget check uses our own estimator over what
was actually sent. Deterministic; no PostgreSQL, Redis or GitHub needed.

    python benchmarks/ai_cost.py [--budget 30000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes.anthropic import FakeAnthropicState, create_fake_anthropic  # noqa: E402

from devmetrics_app.ai.analysis import AnalysisSettings, PullRequestInput, analyse_pull_request  # noqa: E402
from devmetrics_app.ai.budget import estimate_tokens  # noqa: E402
from devmetrics_app.ai.claude import ClaudeReviewer, make_client  # noqa: E402
from devmetrics_app.ai.files import PrFile  # noqa: E402
from devmetrics_app.review.config import ReviewConfig  # noqa: E402
from devmetrics_app.review.ledger import diff_hash  # noqa: E402
from devmetrics_app.review.runner import skip_reason  # noqa: E402

MODEL = "claude-sonnet-4-6"
CONTEXT_WINDOW = 200_000
API_KEY = "sk-ant-bench"
ANSWER = {"risk_score": 30, "complexity": "medium", "estimated_review_minutes": 15, "summary": "ok",
          "findings": [], "prompt_injection_detected": False, "prompt_injection_evidence": ""}


def patch(lines: int, seed: str) -> str:
    body = "\n".join(f"+    value_{seed}_{i} = compute({i}, '{seed}')" for i in range(lines))
    return f"@@ -1,2 +1,{lines + 2} @@\n def f():\n     pass\n{body}"


def files(count: int, lines: int, seed: str = "a", prefix: str = "src/mod") -> list[PrFile]:
    return [PrFile(f"{prefix}_{i:04d}.py", "modified", lines, 0, lines, patch(lines, f"{seed}{i}"))
            for i in range(count)]


@dataclass
class Push:
    pr: str
    files: list[PrFile]
    draft: bool = False
    author: dict[str, Any] = field(default_factory=lambda: {"login": "alice", "type": "User"})


TYPICAL = [*files(8, 35), PrFile("app/auth/login.py", "modified", 40, 5, 45, patch(40, "auth"))]
TYPICAL_V2 = [*TYPICAL[:-1], PrFile("app/auth/login.py", "modified", 44, 5, 49, patch(44, "auth2"))]
PUSHES = [
    Push("tiny", files(1, 5, "tiny")),
    Push("typical", TYPICAL),
    Push("typical", TYPICAL_V2),  # a second push that changes the diff
    Push("typical (rebased, same diff)", TYPICAL_V2),
    Push("huge (3,000 files)", files(3000, 12, "huge")),
    Push("draft", files(4, 30, "draft"), draft=True),
    Push("draft", files(4, 32, "draft2"), draft=True),
    Push("bot", [PrFile("requirements.txt", "modified", 1, 1, 2, "@@ -1 +1 @@\n-x==1\n+x==2")],
         author={"login": "dependabot[bot]", "type": "Bot"}),
    Push("bot", [PrFile("requirements.txt", "modified", 1, 1, 2, "@@ -1 +1 @@\n-x==2\n+x==3")],
         author={"login": "dependabot[bot]", "type": "Bot"}),
]


@dataclass
class Tally:
    calls: int = 0
    tokens: int = 0
    max_sent_estimate: int = 0


def text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "".join(b.get("text", "") for b in value or [] if isinstance(b, dict))


def reported(state: FakeAnthropicState, before: int) -> tuple[int, int, int]:
    """(calls, input tokens the fake reported, our estimate of the largest request) since `before`."""
    reqs = state.message_requests[before:]
    tokens = 0
    biggest = 0
    for r in reqs:
        system = text_of(r.body.get("system"))
        user = "".join(text_of(m["content"]) for m in r.body["messages"])
        biggest = max(biggest, estimate_tokens(system) + estimate_tokens(user))
        tokens += max(1, len(json.dumps(r.body["messages"]) + system) // 4)  # as the fake counts
    return len(reqs), tokens, biggest


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=int, default=30_000)
    args = parser.parse_args()
    state = FakeAnthropicState(api_key=API_KEY)
    app = create_fake_anthropic(state)
    app._client_max_size = 64 * 1024 * 1024  # let the naive huge request through to be counted
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = make_client(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}", timeout=30)
    reviewer = ClaudeReviewer(client, model=MODEL)
    settings = AnalysisSettings(budget_tokens=args.budget, model=MODEL)
    ours: dict[str, Tally] = {}
    naive: dict[str, Tally] = {}
    seen: set[str] = set()
    config = ReviewConfig(budget_tokens=args.budget)
    try:
        for n, push in enumerate(PUSHES):
            pr = {"draft": push.draft, "user": push.author, "head": {"ref": "feature"}, "labels": []}
            mine = ours.setdefault(push.pr, Tally())
            if skip_reason(pr, config, force=False) is None and (key := diff_hash(push.files)) not in seen:
                seen.add(key)
                before = len(state.message_requests)
                state.reply_json(ANSWER)
                await analyse_pull_request(
                    PullRequestInput("acme/api", n, "Change", "Body", "https://github.com/acme/api"),
                    push.files, None, settings, reviewer)
                calls, tokens, biggest = reported(state, before)
                mine.calls += calls
                mine.tokens += tokens
                mine.max_sent_estimate = max(mine.max_sent_estimate, biggest)
            theirs = naive.setdefault(push.pr, Tally())
            before = len(state.message_requests)
            state.reply_json(ANSWER)
            whole = "\n".join(f"### {f.filename}\n{f.patch}" for f in push.files)
            await client.messages.create(model=MODEL, max_tokens=4096, system="Review this pull request.",
                                         messages=[{"role": "user", "content": whole}])
            calls, tokens, biggest = reported(state, before)
            theirs.calls += calls
            theirs.tokens += tokens
            theirs.max_sent_estimate = max(theirs.max_sent_estimate, biggest)
    finally:
        await client.close()
        await runner.cleanup()

    print(f"AI review cost, {len(PUSHES)} pushes over {len(ours)} pull requests "
          f"(input budget {args.budget:,} tokens)\n")
    print(f"{'pull request':32} {'ours calls':>10} {'ours tokens':>12} {'largest':>9}   "
          f"{'naive calls':>11} {'naive tokens':>13} {'largest':>9}")
    for name in ours:
        o, v = ours[name], naive[name]
        print(f"{name:32} {o.calls:>10} {o.tokens:>12,} {o.max_sent_estimate:>9,}   "
              f"{v.calls:>11} {v.tokens:>13,} {v.max_sent_estimate:>9,}")
    total_o = Tally(sum(t.calls for t in ours.values()), sum(t.tokens for t in ours.values()))
    total_v = Tally(sum(t.calls for t in naive.values()), sum(t.tokens for t in naive.values()))
    print(f"{'total':32} {total_o.calls:>10} {total_o.tokens:>12,} {'':>9}   {total_v.calls:>11} "
          f"{total_v.tokens:>13,}")
    zero = all(ours[k].calls == 0 for k in ("draft", "bot", "typical (rebased, same diff)"))
    within = all(t.max_sent_estimate <= args.budget for t in ours.values())
    print(f"\nzero calls for drafts, bots and unchanged diffs: {'yes' if zero else 'NO'}")
    print(f"every call within the input budget: {'yes' if within else 'NO'}")
    over = [k for k, t in naive.items() if t.max_sent_estimate > CONTEXT_WINDOW]
    if over:
        print(f"naive requests over the model's {CONTEXT_WINDOW:,}-token context (rejected for real): "
              + ", ".join(over))
    if total_v.tokens:
        print(f"input tokens: ours {total_o.tokens / total_v.tokens:.1%} of naive")
    return 0 if zero and within else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
