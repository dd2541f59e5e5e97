"""Retention: how long tips live, the purge that keeps that promise, and the sweep of leftovers."""
