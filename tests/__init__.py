"""The test suite (a package, so ``tests.*`` imports find it before any installed ``tests`` package)."""
