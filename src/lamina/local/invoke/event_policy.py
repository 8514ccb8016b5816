"""Lambda's asynchronous invocation policy: retries, event age, and what happens after each attempt.

Lambda retries a failed ``Event`` invocation twice (after about 1 and then 2 minutes) unless
``MaximumRetryAttempts`` (0-2) says fewer, and drops events older than ``MaximumEventAgeInSeconds``
(60-21600). Pure code: the worker asks :func:`after_failure` and :func:`is_expired` with a clock
reading; delays are parameters so tests run in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional, Tuple, Union

__all__ = [
    "AWS_RETRY_DELAYS",
    "EVENT_AGE_EXCEEDED",
    "RETRIES_EXHAUSTED",
    "EventInvokeConfig",
    "InvalidEventInvokeConfigError",
    "Retry",
    "after_failure",
    "is_expired",
]

AWS_RETRY_DELAYS: Tuple[float, ...] = (60.0, 120.0)
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
MIN_EVENT_AGE, MAX_EVENT_AGE = 60, 21600


class InvalidEventInvokeConfigError(ValueError):
    """Lambda's ``InvalidParameterValueException`` for PutFunctionEventInvokeConfig."""

    error_type = "InvalidParameterValueException"


@dataclass(frozen=True)
class EventInvokeConfig:
    """A function's asynchronous invocation settings, validated as Lambda validates them.

    ``on_failure``/``on_success`` name a local destination: a ``.jsonl`` file or a directory.
    """

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = MAX_EVENT_AGE
    on_failure: Optional[str] = None
    on_success: Optional[str] = None

    def __post_init__(self) -> None:
        retries = self.maximum_retry_attempts
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 2:
            raise InvalidEventInvokeConfigError(
                f"1 validation error detected: Value '{retries}' at 'maximumRetryAttempts' failed to "
                "satisfy constraint: Member must have value less than or equal to 2 and greater than or "
                "equal to 0")
        age = self.maximum_event_age_seconds
        if isinstance(age, bool) or not isinstance(age, int) or not MIN_EVENT_AGE <= age <= MAX_EVENT_AGE:
            raise InvalidEventInvokeConfigError(
                f"1 validation error detected: Value '{age}' at 'maximumEventAgeInSeconds' failed to "
                f"satisfy constraint: Member must have value less than or equal to {MAX_EVENT_AGE} and "
                f"greater than or equal to {MIN_EVENT_AGE}")

    @classmethod
    def from_project(cls, config: dict[str, object]) -> EventInvokeConfig:
        """From a project-file function table (``maximum_retry_attempts``, ``on_failure``, …)."""
        def pick(*keys: str) -> object:
            return next((config[k] for k in keys if k in config), None)

        values: dict[str, object] = {}
        retries = pick("maximum_retry_attempts", "MaximumRetryAttempts")
        if retries is not None:
            values["maximum_retry_attempts"] = retries
        age = pick("maximum_event_age", "maximum_event_age_seconds", "MaximumEventAgeInSeconds")
        if age is not None:
            values["maximum_event_age_seconds"] = age
        for key, names in (("on_failure", ("on_failure", "OnFailure")), ("on_success", ("on_success",))):
            value = pick(*names)
            if value is not None:
                values[key] = str(value)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Retry:
    """Run the event again at ``not_before`` (epoch seconds)."""

    not_before: float


def is_expired(config: EventInvokeConfig, enqueued_at: float, now: float) -> bool:
    """Whether the event is older than the function's maximum event age."""
    return now - enqueued_at > config.maximum_event_age_seconds


def after_failure(config: EventInvokeConfig, attempts: int, enqueued_at: float, now: float,
                  delays: Sequence[float] = AWS_RETRY_DELAYS) -> Union[Retry, str]:
    """After attempt number ``attempts`` failed: a :class:`Retry`, or the failure condition."""
    if attempts > config.maximum_retry_attempts:
        return RETRIES_EXHAUSTED
    delay = delays[min(attempts - 1, len(delays) - 1)] if delays else 0.0
    if is_expired(config, enqueued_at, now + delay):
        return EVENT_AGE_EXCEEDED
    return Retry(now + delay)
