"""Tenant isolation mode: each tenant's invocations run in environments of that tenant only."""

from __future__ import annotations

import asyncio
import json

import pytest

from lamina.local.invoke.service import LocalLambda
from lamina.local.model.function_config import FunctionConfig
from lamina.local.model.service_errors import ServiceError
from tests.local.local_helpers import FUNCTIONS


def test_each_tenant_gets_environments_of_its_own_and_a_missing_tenant_is_refused() -> None:
    async def scenario() -> tuple[list[int], list[int], str]:
        async with LocalLambda() as local:
            local.registry.put(FunctionConfig(name="tenants", code_dir=FUNCTIONS, handler="handlers.pid",
                                              tenant_isolation=True, timeout=10.0))

            async def pid(tenant: str) -> int:
                return int(json.loads((await local.invoke("tenants", b"{}", tenant_id=tenant)).payload))

            first = [await pid("blue"), await pid("blue")]
            second = [await pid("green"), await pid("blue")]
            with pytest.raises(ServiceError) as refused:
                await local.invoke("tenants", b"{}")
            return first, second, refused.value.error_type

    first, second, refused = asyncio.run(scenario())
    assert first[0] == first[1] == second[1]  # blue's warm environment serves blue again
    assert second[0] != first[0]  # green never runs in blue's environment
    assert refused == "InvalidParameterValueException"
