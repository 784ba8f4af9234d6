"""kaartlaag services."""
