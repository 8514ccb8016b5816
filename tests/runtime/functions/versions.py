import sys


def h(event, context):
    return {"event": event["k"] and event, "python": "%d.%d" % sys.version_info[:2]}
