"""Staff views, a module per page family; each module owns its URL patterns."""
