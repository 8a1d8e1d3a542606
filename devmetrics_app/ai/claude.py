"""Claude through the official SDK: one review call, our retry policy, a validated answer, a cost.

Retry policy — ours, not the SDK's (the client is built with `max_retries=0`). The SDK retries
every 429, including the ones that mean "spend limit reached", and those must not be retried: they
will not clear for hours and each attempt is noise in the operator's logs. So:

- 429 rate limit: wait what `retry-after-ms` / `retry-after` says (the API's word), else back off.
  A wait longer than MAX_RETRY_AFTER_SECONDS gives up instead of holding a worker.
- 529 overloaded, 500/502/503/504, 408, timeouts and connection errors: exponential back-off with
  jitter (1 s, 2 s, 4 s ... capped), or `retry-after` when the server sends one.
- Spend limit / billing (429 with `error.details.error_code` *_spend_limit_reached, 402, a
  `billing_error`), and every other 4xx: no retry. `x-should-retry: false` is obeyed.
- Credit balance too low: a 400 `invalid_request_error` whose message says "Your credit balance
  is too low ...". Named `credit_balance` (not a generic request error), so the caller can say so
  and stop calling until the balance changes.
- At most MAX_TRANSPORT_RETRIES retries per analysis, all inside DEADLINE_SECONDS.
- The answer is validated; malformed or out-of-range output is asked for once more (with the
  validator's reason, never the model's text, appended), then we give up and the floor stands.

Requests carry no sampling parameters (temperature/top_p/top_k) and no tools; the system prompt is
one block marked `cache_control: ephemeral`; the answer shape is `output_config.format` with our
JSON schema (supported natively by `messages.create` in this SDK, so no `extra_body`).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal

import anthropic
from anthropic import AsyncAnthropic

from devmetrics_app.observability.metrics import record_claude_usage

from .prompt import CATEGORIES, COMPLEXITIES, OUTPUT_SCHEMA, SEVERITIES

REQUEST_TIMEOUT_SECONDS = 90.0
CONNECT_TIMEOUT_SECONDS = 5.0
DEADLINE_SECONDS = 240.0
DEFAULT_MAX_OUTPUT_TOKENS = 4096
MAX_TRANSPORT_RETRIES = 3
VALIDATION_ATTEMPTS = 2  # the first answer, plus one retry when it is malformed
BACKOFF_INITIAL_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 16.0
MAX_RETRY_AFTER_SECONDS = 60.0
MAX_FINDINGS = 20
MAX_REVIEW_MINUTES = 480

SPEND_LIMIT_CODES = frozenset({
    "contract_spend_limit_reached", "enforced_spend_limit_reached",
    "linked_organization_spend_limit_reached", "linked_organization_billing_unavailable",
})
RETRYABLE_STATUSES = frozenset({408, 500, 502, 503, 504, 529})
CREDIT_BALANCE_PHRASE = "credit balance is too low"


# --- prices and usage ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens. Cache writes cost 1.25x input (5-minute TTL), reads 0.1x."""

    input: float
    output: float
    cache_write_factor: float = 1.25
    cache_read_factor: float = 0.1


# Longest matching prefix wins. List prices, for an estimate; the invoice is the truth.
PRICES: dict[str, Price] = {
    "claude-opus-4": Price(5.0, 25.0),  # Opus 4.5 and later
    "claude-opus-4-0": Price(15.0, 75.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4-2025": Price(15.0, 75.0),  # claude-opus-4-20250514
    "claude-3-opus": Price(15.0, 75.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-3-5-sonnet": Price(3.0, 15.0),
    "claude-haiku-4": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
}
DEFAULT_PRICE = Price(3.0, 15.0)
UNKNOWN_PRICE_NOTE = "unknown model → cost estimated with the default price (${:.2f}/${:.2f} per MTok)"


@dataclass
class TokenUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    calls: int = 0

    def add(self, usage: Any) -> None:
        self.input_tokens += int(getattr(usage, "input_tokens", 0) or 0)
        self.output_tokens += int(getattr(usage, "output_tokens", 0) or 0)
        self.cache_creation_input_tokens += int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        self.cache_read_input_tokens += int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        self.calls += 1


@dataclass(frozen=True)
class CostEstimate:
    usd: float
    model: str
    price: Price
    note: str | None = None  # set when the model was not in the price table


def price_for(model: str) -> tuple[Price, bool]:
    match = max((p for p in PRICES if model.startswith(p)), key=len, default=None)
    return (PRICES[match], True) if match else (DEFAULT_PRICE, False)


def estimate_cost(model: str, usage: TokenUsage) -> CostEstimate:
    price, known = price_for(model)
    usd = (
        usage.input_tokens * price.input
        + usage.cache_creation_input_tokens * price.input * price.cache_write_factor
        + usage.cache_read_input_tokens * price.input * price.cache_read_factor
        + usage.output_tokens * price.output
    ) / 1_000_000
    note = None if known else UNKNOWN_PRICE_NOTE.format(price.input, price.output)
    return CostEstimate(round(usd, 6), model, price, note)


# --- the answer ----------------------------------------------------------------------------------


class MalformedOutput(ValueError):
    """The model's answer broke the schema or our bounds; the message says how (safe to log)."""


@dataclass(frozen=True)
class ModelFinding:
    category: str
    severity: str
    file: str
    start_line: int
    end_line: int
    title: str
    explanation: str
    suggestion: str


@dataclass(frozen=True)
class ModelReview:
    risk_score: int
    complexity: str
    estimated_review_minutes: int
    summary: str
    findings: tuple[ModelFinding, ...]
    prompt_injection_detected: bool
    prompt_injection_evidence: str
    dropped_findings: int = 0  # findings about files not in the pull request


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise MalformedOutput(f"{key} must be an integer")
    return value


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise MalformedOutput(f"{key} must be a string")
    return value


def _enum(data: dict[str, Any], key: str, allowed: Collection[str]) -> str:
    value = _str(data, key)
    if value not in allowed:
        raise MalformedOutput(f"{key} must be one of {', '.join(allowed)}")
    return value


def _exact_keys(data: dict[str, Any], schema: dict[str, Any], what: str) -> None:
    missing = [k for k in schema["required"] if k not in data]
    extra = [k for k in data if k not in schema["properties"]]
    if missing:
        raise MalformedOutput(f"{what} lacks {', '.join(missing)}")
    if extra:
        raise MalformedOutput(f"{what} has unexpected keys")


def validate_review(data: object, *, known_files: Collection[str] | None = None) -> ModelReview:
    """Check an answer against the schema *and* the bounds the schema cannot carry."""
    if not isinstance(data, dict):
        raise MalformedOutput("answer is not a JSON object")
    _exact_keys(data, OUTPUT_SCHEMA, "answer")
    score = _int(data, "risk_score")
    if not 0 <= score <= 100:
        raise MalformedOutput("risk_score must be between 0 and 100")
    minutes = _int(data, "estimated_review_minutes")
    if minutes < 0:
        raise MalformedOutput("estimated_review_minutes must not be negative")
    injected = data.get("prompt_injection_detected")
    if not isinstance(injected, bool):
        raise MalformedOutput("prompt_injection_detected must be a boolean")
    raw_findings = data.get("findings")
    if not isinstance(raw_findings, list):
        raise MalformedOutput("findings must be an array")
    finding_schema = OUTPUT_SCHEMA["properties"]["findings"]["items"]
    findings: list[ModelFinding] = []
    dropped = 0
    for raw in raw_findings:
        if not isinstance(raw, dict):
            raise MalformedOutput("each finding must be an object")
        _exact_keys(raw, finding_schema, "finding")
        start, end = _int(raw, "start_line"), _int(raw, "end_line")
        if start < 0 or end < 0:
            raise MalformedOutput("line numbers must not be negative")
        finding = ModelFinding(
            category=_enum(raw, "category", CATEGORIES),
            severity=_enum(raw, "severity", SEVERITIES),
            file=_str(raw, "file"),
            start_line=min(start, end) if end else start,
            end_line=max(start, end) if end else start,
            title=_str(raw, "title"),
            explanation=_str(raw, "explanation"),
            suggestion=_str(raw, "suggestion"),
        )
        if known_files is not None and finding.file and finding.file not in known_files:
            dropped += 1
            continue
        findings.append(finding)
    return ModelReview(
        risk_score=score,
        complexity=_enum(data, "complexity", COMPLEXITIES),
        estimated_review_minutes=max(1, min(MAX_REVIEW_MINUTES, minutes)),
        summary=_str(data, "summary"),
        findings=tuple(findings[:MAX_FINDINGS]),
        prompt_injection_detected=injected,
        prompt_injection_evidence=_str(data, "prompt_injection_evidence"),
        dropped_findings=dropped + max(0, len(findings) - MAX_FINDINGS),
    )


def parse_answer(message: Any, *, known_files: Collection[str] | None = None) -> ModelReview:
    if message.stop_reason == "max_tokens":
        raise MalformedOutput("answer was cut off at max_tokens")
    if message.stop_reason == "refusal":
        raise MalformedOutput("model refused to answer")
    text = "".join(getattr(b, "text", "") for b in message.content if getattr(b, "type", "") == "text")
    try:
        data = json.loads(text)
    except ValueError:
        raise MalformedOutput("answer is not valid JSON") from None
    return validate_review(data, known_files=known_files)


# --- the call ------------------------------------------------------------------------------------

ErrorKind = Literal["spend_limit", "credit_balance", "rate_limited", "overloaded", "server_error",
                    "timeout", "connection", "request_error", "malformed", "deadline"]


@dataclass(frozen=True)
class ModelRequest:
    system: list[dict[str, Any]]
    user_content: str
    known_files: frozenset[str] = frozenset()


@dataclass
class ModelResult:
    model: str
    review: ModelReview | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost: CostEstimate | None = None
    attempts: int = 0  # HTTP requests made
    error_kind: ErrorKind | None = None
    error: str | None = None  # safe to show: no secrets, no model text
    sleeps: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.review is not None


@dataclass(frozen=True)
class _Decision:
    retry: bool
    kind: ErrorKind
    delay: float | None  # seconds the server asked for, when it did


def _retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name) if headers is not None else None
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if value >= 0:
            return value
    return None


def is_spend_limit(exc: anthropic.APIStatusError) -> bool:
    return (
        exc.error_code in SPEND_LIMIT_CODES
        or exc.status_code == 402
        or exc.type == "billing_error"
    )


def is_credit_balance(exc: anthropic.APIStatusError) -> bool:
    return exc.status_code == 400 and CREDIT_BALANCE_PHRASE in str(exc.message).lower()


def classify_error(exc: Exception) -> _Decision:
    if isinstance(exc, anthropic.APIStatusError):
        headers = exc.response.headers
        delay = _retry_after(headers)
        if is_spend_limit(exc):
            return _Decision(False, "spend_limit", None)
        if is_credit_balance(exc):
            return _Decision(False, "credit_balance", None)
        if headers.get("x-should-retry") == "false":
            return _Decision(False, "request_error", None)
        if exc.status_code == 429:
            return _Decision(True, "rate_limited", delay)
        if exc.status_code == 529 or isinstance(exc, anthropic.OverloadedError):
            return _Decision(True, "overloaded", delay)
        if exc.status_code in RETRYABLE_STATUSES:
            return _Decision(True, "server_error", delay)
        return _Decision(False, "request_error", None)
    if isinstance(exc, anthropic.APITimeoutError):
        return _Decision(True, "timeout", None)
    if isinstance(exc, anthropic.APIConnectionError):
        return _Decision(True, "connection", None)
    raise exc


def _describe(exc: Exception) -> str:
    if isinstance(exc, anthropic.APIStatusError):
        if is_credit_balance(exc):  # Anthropic's own words, which name what to do
            return f"HTTP {exc.status_code}: the Anthropic account's credit balance is too low"
        code = f" ({exc.error_code})" if exc.error_code else ""
        return f"HTTP {exc.status_code} {exc.type or 'error'}{code}"
    return type(exc).__name__


Sleep = Callable[[float], Awaitable[None]]


class ClaudeReviewer:
    """Implements the `ModelClient` protocol of `analysis.py` on top of `AsyncAnthropic`."""

    def __init__(
        self,
        client: AsyncAnthropic,
        *,
        model: str,
        max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        deadline_seconds: float = DEADLINE_SECONDS,
    ) -> None:
        self.client = client
        self.model = model
        self.max_output_tokens = max_output_tokens
        self._sleep = sleep
        self._clock = clock
        self.deadline_seconds = deadline_seconds

    async def analyse(self, request: ModelRequest) -> ModelResult:
        result = ModelResult(model=self.model)
        deadline = self._clock() + self.deadline_seconds
        retries_left = MAX_TRANSPORT_RETRIES
        correction: str | None = None
        validation_attempt = 0
        backoff_step = 0
        while validation_attempt < VALIDATION_ATTEMPTS:
            try:
                result.attempts += 1
                message = await self._create(request, correction)
            except anthropic.APIError as exc:
                decision = classify_error(exc)
                result.error_kind, result.error = decision.kind, _describe(exc)
                if not decision.retry or retries_left <= 0:
                    break
                delay = decision.delay
                if delay is None:
                    delay = min(BACKOFF_MAX_SECONDS, BACKOFF_INITIAL_SECONDS * 2 ** backoff_step)
                    delay *= 0.75 + random.random() / 4
                    backoff_step += 1
                elif delay > MAX_RETRY_AFTER_SECONDS:
                    result.error += f"; retry-after {delay:.0f}s is longer than we wait"
                    break
                if self._clock() + delay > deadline:
                    result.error_kind = "deadline"
                    result.error += "; no time left to retry"
                    break
                retries_left -= 1
                result.sleeps.append(delay)
                await self._sleep(delay)
                continue
            result.usage.add(message.usage)
            validation_attempt += 1
            try:
                result.review = parse_answer(message, known_files=request.known_files or None)
            except MalformedOutput as exc:
                result.error_kind, result.error = "malformed", str(exc)
                correction = (f"Your previous answer was rejected by validation: {exc}. "
                              "Answer again with one JSON object that follows the schema and its bounds.")
                continue
            result.error_kind = result.error = None
            break
        result.cost = estimate_cost(self.model, result.usage)
        record_claude_usage(self.model, result.usage, result.cost.usd)
        return result

    async def _create(self, request: ModelRequest, correction: str | None) -> Any:
        content: list[dict[str, Any]] = [{"type": "text", "text": request.user_content}]
        if correction:
            content.append({"type": "text", "text": correction})
        return await self.client.messages.create(
            model=self.model,
            max_tokens=self.max_output_tokens,
            system=request.system,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": content}],  # type: ignore[list-item]
            output_config={"format": {"type": "json_schema", "schema": OUTPUT_SCHEMA}},
        )


def make_client(
    *, api_key: str, base_url: str | None = None, timeout: float = REQUEST_TIMEOUT_SECONDS
) -> AsyncAnthropic:
    """The SDK client. `max_retries=0`: retries are ours (see the module docstring)."""
    return AsyncAnthropic(
        api_key=api_key,
        base_url=base_url or None,
        max_retries=0,
        timeout=anthropic.Timeout(timeout, connect=CONNECT_TIMEOUT_SECONDS),
    )


# --- start-up check ------------------------------------------------------------------------------

ModelStatus = Literal["available", "deprecated", "retired", "unknown", "unchecked"]


@dataclass(frozen=True)
class ModelCheck:
    model: str
    status: ModelStatus
    message: str
    resolved_id: str | None = None

    @property
    def usable(self) -> bool:
        return self.status in {"available", "deprecated", "unchecked"}


async def check_model(client: AsyncAnthropic, model: str) -> ModelCheck:
    """Is ANTHROPIC_MODEL one the API lists? Names change and old models retire; say so at start-up
    rather than on the first pull request. An alias (`claude-sonnet-4-5`) matches its dated id."""
    try:
        found = None
        async for info in client.models.list(limit=100):
            if info.id == model:
                found = info
                break
            if found is None and info.id.startswith(model + "-"):
                found = info
    except anthropic.APIError as exc:
        return ModelCheck(model, "unchecked", f"could not list models ({_describe(exc)}); "
                          f"assuming ANTHROPIC_MODEL={model!r} exists")
    if found is None:
        return ModelCheck(model, "unknown", f"ANTHROPIC_MODEL={model!r} is not a model this API key can use; "
                          "AI reviews will fall back to the deterministic risk floor until it is fixed")
    lifecycle = getattr(found, "lifecycle", "active")
    if lifecycle == "retired":
        return ModelCheck(model, "retired", f"ANTHROPIC_MODEL={model!r} ({found.id}) is retired; "
                          "choose a current model", found.id)
    if lifecycle == "deprecated":
        when = f" on {found.retires_at:%Y-%m-%d}" if getattr(found, "retires_at", None) else ""
        return ModelCheck(model, "deprecated", f"ANTHROPIC_MODEL={model!r} ({found.id}) is deprecated and "
                          f"will retire{when or ' soon'}", found.id)
    _, known_price = price_for(found.id)
    note = "" if known_price else "; " + UNKNOWN_PRICE_NOTE.format(DEFAULT_PRICE.input, DEFAULT_PRICE.output)
    return ModelCheck(model, "available", f"ANTHROPIC_MODEL={model!r} is available ({found.id}){note}",
                      found.id)
