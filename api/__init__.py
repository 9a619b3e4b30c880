"""The edge: the ASGI app factory, settings, authentication, telemetry, health and the CLI."""
