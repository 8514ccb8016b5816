def h(event, context):
    return {"module": __name__}
