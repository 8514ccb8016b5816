def helper():
    raise RuntimeError("init failed")

helper()

def h(event, context):
    return 1
