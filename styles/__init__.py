"""kaartlaag styles."""
