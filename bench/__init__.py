"""Benchmarks: real servers and aiortc clients in a loopback-only network namespace (see bench/netns.sh)."""
