"""Open Referral HSDS: a service directory."""
