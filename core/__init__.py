"""The shared vocabulary every layer speaks: errors, categories, purposes, principals.

`core` sits at the bottom beside `store` and imports nothing of ours, so that
`policies/`, `connectors/`, `identity/` and `audit/` can share words without
importing each other.
"""
