"""Measuring and calling: the HER2/EFTUD2 copy-number call and the PIK3CA hotspot calls with their QC, the
panel's completeness, controls, limits of blank and the lab's cut-off profiles.

Depends on: ``tdm1core.reading`` and ``tdm1core.measuring``."""
