"""A custom runtime that starts and never asks for an invocation."""

import time

time.sleep(120)
