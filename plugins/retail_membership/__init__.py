"""Retail membership (零售会员): stores, member cards, tiers, points, purchases, campaigns."""
name = "retail_membership"
version = "0.1.0"
requires: list[str] = []
