"""Aula: a self-hosted live virtual classroom server."""
