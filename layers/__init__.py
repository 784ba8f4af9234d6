"""kaartlaag layers."""
