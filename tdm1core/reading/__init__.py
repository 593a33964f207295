"""Reading exports and droplets: Bio-Rad results exports (one record per layout in ``layouts``), per-droplet
amplitude files and zipped plates, droplet thresholds, well names, and the text and workbook decoding under them.

Depends on: ``tdm1core.errors``, ``tdm1core.settings``, ``tdm1core.panel``/``targets`` and ``tdm1core.measuring``."""
