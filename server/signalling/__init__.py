"""socket.io signalling: presence, chat, hands and moderation on the ``/classroom`` namespace."""
