"""The clinical flag: HER2 not amplified and ER- and/or PR-positive (``risk``), and the provenance of every
result (the inputs' SHA-256, the settings, the target map, the cut-off profile). Depends on: ``tdm1core.calling``."""
