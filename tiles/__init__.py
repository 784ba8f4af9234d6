"""kaartlaag tiles."""
