"""Reports and release: the patient and cohort PDFs, the released result (JSON with its content digest),
the FHIR bundle and the formula-safe CSV/XLSX tables. Depends on: ``clinical``, ``stats`` and ``plotting``."""
