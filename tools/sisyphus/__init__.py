"""Placeholder (engine under construction)."""
