"""Identity: who a face is among the people enrolled, or nobody.

``matching`` (per-person scores, thresholds, the face an enrolment photo gives), ``quality``
(the enrolment gate), ``enrollment`` (EnrollReport, Identified), ``index`` (faiss over the
people's centroids, following the store) and ``pg_index`` (the same, asked of pgvector)."""
