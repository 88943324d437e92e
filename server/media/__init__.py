"""Live media: an SFU on aiortc that forwards each publisher's encoded RTP to the subscribers."""
