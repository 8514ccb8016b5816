"""The smallest useful Lambda function: greets the caller and shows what the context carries."""

import logging

logger = logging.getLogger(__name__)


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    logger.warning("greeting %s", name)
    return {
        "message": f"Hello, {name}!",
        "request_id": context.aws_request_id,
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
