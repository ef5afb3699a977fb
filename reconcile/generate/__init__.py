"""`rlstate generate`: a manifest written from what an account holds (pure writer in writer.py)."""
