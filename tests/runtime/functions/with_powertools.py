"""AWS Lambda Powertools: Logger, Metrics, the REST event handler and the batch processor together."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

logger = Logger(service="orders")
metrics = Metrics(namespace="Lamina", service="orders")
app = APIGatewayRestResolver()
processor = BatchProcessor(event_type=EventType.SQS)


@app.get("/orders/<order_id>")
def get_order(order_id):
    logger.info("fetching order", extra={"order_id": order_id})
    metrics.add_metric(name="OrderFetched", unit=MetricUnit.Count, value=1)
    return {"order_id": order_id, "request_id": app.lambda_context.aws_request_id}


@app.get("/fail")
def fail():
    raise ValueError("route failed")


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def api(event, context):
    return app.resolve(event, context)


def _record(record):
    if record.body == "bad":
        raise ValueError("bad record")
    logger.info("processed", extra={"body": record.body})


@logger.inject_lambda_context
def batch(event, context):
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
