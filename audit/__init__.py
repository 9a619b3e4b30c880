"""The access log: what was decided and disclosed, for whom, on what basis."""
