"""The account's concurrency: how many invocations all functions run at once, as Lambda counts them.

Lambda starts execution environments on demand, up to the account's concurrency (1,000 by default),
and throttles beyond it. A function with reserved concurrency has that many set aside for it alone
(and may use no more); every other function shares what is left, the unreserved concurrency, which
Lambda never lets fall below 100. The two throttles have their own reasons
(``ReservedFunctionConcurrentInvocationLimitExceeded`` from the function's pool,
``ConcurrentInvocationLimitExceeded`` from here).
"""

from __future__ import annotations

from typing import Callable, Mapping

from lamina.local.environments.turns import Turns
from lamina.local.model import service_errors
from lamina.local.model.function_config import DEFAULT_ACCOUNT_CONCURRENCY

MIN_UNRESERVED_CONCURRENCY = 100  # Lambda keeps at least this much for functions without a reservation


def check_reservations(reserved: Mapping[str, int], limit: int) -> None:
    """Refuse reservations that leave less than Lambda's minimum unreserved, with AWS's message."""
    for value in reserved.values():
        if value < 0:
            raise service_errors.invalid_parameter(
                f"1 validation error detected: Value '{value}' at 'reservedConcurrentExecutions' failed to "
                "satisfy constraint: Member must have value greater than or equal to 0")
    if reserved and sum(reserved.values()) > limit - MIN_UNRESERVED_CONCURRENCY:
        raise service_errors.invalid_parameter(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED_CONCURRENCY}].")


class AccountConcurrency:
    """The unreserved concurrency every function without a reservation draws from."""

    def __init__(self, limit: int = DEFAULT_ACCOUNT_CONCURRENCY,
                 reserved_total: Callable[[], int] = lambda: 0) -> None:
        self.limit = limit
        self._reserved_total = reserved_total  # the reservations of the functions served now
        self.in_use = 0
        self._waiters = Turns()

    @property
    def unreserved(self) -> int:
        return max(self.limit - self._reserved_total(), 0)

    async def acquire(self, wait: bool) -> None:
        """One unreserved execution; at the limit a synchronous invocation is throttled at once, an
        asynchronous one (``wait``) waits, as Lambda's internal queue does."""
        if self.in_use < self.unreserved and not self._waiters:
            self.in_use += 1
            return
        if not wait:
            raise service_errors.too_many_requests(reserved=False)
        await self._waiters.wait(give_back=self.release)

    def release(self) -> None:
        if self.in_use <= self.unreserved and self._waiters.hand_over():
            return  # the execution passes straight to the waiter
        self.in_use -= 1
