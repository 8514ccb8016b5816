"""A function with no imports: what cold start looks like at its leanest."""


def h(event, context):
    return None
