import collections
import decimal
import enum
import sys

Point = collections.namedtuple("Point", "x y")


class Colour(str, enum.Enum):
    RED = "red"


def h(event, context):
    return {"event": event["k"] and event, "python": "%d.%d" % sys.version_info[:2]}


def marshalled(event, context):
    """The large event back, with what the encoder must write the simplejson way, at every depth."""
    event["records"][-1]["tags"].append([Point(1, [decimal.Decimal("2.50")])])
    event["leaves"] = [Colour.RED, decimal.Decimal("1.10"), b"raw", float("nan")]
    return event
