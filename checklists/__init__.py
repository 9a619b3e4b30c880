"""Document readiness (issue 20): what each goal needs, as configuration a city edits without a release."""
