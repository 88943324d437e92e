"""Who is in which classroom right now: participants, seats, hands."""
