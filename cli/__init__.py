"""The command line: `casebridge ...` (typer). cli.main holds the app; each group of commands its module."""
