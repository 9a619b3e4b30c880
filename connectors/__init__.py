"""Agency connectors: the protocol, canonical record types, one adapter per source format."""
