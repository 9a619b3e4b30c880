"""Synthetic population and agency simulators for the demo and the tests. All data is generated."""
