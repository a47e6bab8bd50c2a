"""Reading: result rows and Arrow batches into typed DataFrames, the columnar path."""
