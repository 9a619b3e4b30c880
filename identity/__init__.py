"""The master client index: which agency records belong to which client."""
