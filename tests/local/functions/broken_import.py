"""A module that fails while the runtime imports it: an init failure."""

raise RuntimeError("broken at import")


def handler(event, context):  # pragma: no cover - never reached
    return event
