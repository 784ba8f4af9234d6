"""The kaartlaag test suite (a package, so ``tests.*`` always names these modules, never a site-packages ``tests``)."""
