"""Exhibitions (会展): shows and editions, exhibitors and booths, visitors, check-ins, leads."""
name = "exhibitions"
version = "0.1.0"
requires: list[str] = []
