"""Who may see which category of whose data, for what purpose: decisions without side effects."""
