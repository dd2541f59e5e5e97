"""The first-run page: a one-time link that makes the first admin and the recovery key."""
