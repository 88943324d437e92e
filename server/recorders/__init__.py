"""Recorder robots: starting them for recordings, following them, and stopping them."""
