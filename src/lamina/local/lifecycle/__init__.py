"""Sans-I/O state machines of an execution environment."""
