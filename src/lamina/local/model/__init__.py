"""Lambda's nouns and words, free of I/O."""
