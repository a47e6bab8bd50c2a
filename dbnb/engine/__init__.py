"""Engines and their guards: pools within one budget, read-only, limits, remedies."""
