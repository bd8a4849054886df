"""Clinic: visits, change between visits, de-identification and landmark export."""
