raise ValueError("boom at import")
