"""Plumbing shared by every layer: atomic files and modes, npz writing, memory, native stderr."""
