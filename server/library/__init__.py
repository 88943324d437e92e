"""The resource library: recordings, their states, names and files."""
