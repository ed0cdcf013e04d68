"""Laboratory balance drivers (protocol codecs, serial transport) and their simulators."""
