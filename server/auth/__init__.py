"""Who the caller is and what they may do: passwords, sessions, login throttling, permissions."""
