"""Replaying a recording into a live classroom: the publisher's grant and the supervisor of its process."""
