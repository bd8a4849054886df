"""Validation against ground truth: synthetic videos, real faces with a known movement added, scales."""
