"""Table Storage: one module per table, each mapping small dataclasses to entities."""
