"""sundog (see README.md)."""
