"""The JSON HTTP API: routes, their request models, and the middleware that renders errors."""
