"""Testing kit for processor authors (a pytest plugin, entry point ``pytest11: viq``)."""
