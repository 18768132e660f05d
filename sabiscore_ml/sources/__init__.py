"""Data sources: fetch raw bytes, archive them, parse them with pure functions."""
