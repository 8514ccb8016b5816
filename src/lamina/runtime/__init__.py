"""lamina's Lambda runtime: runs inside the execution environment, standard library only, Python 3.9+.

Start it with ``python -m lamina.runtime HANDLER`` (or the ``bootstrap`` script next to this file).
Nothing is imported here: every import on the way to the first invocation is cold-start time.
"""
