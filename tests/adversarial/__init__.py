"""Adversarial tests: one per class of issue 8, each built from a hostile case and failing on the code before its fix."""
