"""Being written (issue 11): this module registers nothing yet."""
