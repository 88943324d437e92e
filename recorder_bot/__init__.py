"""The Session Recorder Robot: joins a classroom as a client and records it (arrives with the REC issue)."""
