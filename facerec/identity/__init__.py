"""Identity: who a face is among the people enrolled, or nobody.

``matching`` (per-person scores, thresholds, the face an enrolment photo gives), ``quality``
(the enrolment gate), ``enrollment`` (the pipeline from photos to samples, its results
EnrollReport and Identified, the duplicate-claim search), ``search`` (asking an index who faces
are), ``calibration`` (the calibrated threshold, its one owner), ``reembedding`` (bringing stored
vectors to one kind), ``vector_kinds`` (refusing to mix kinds), ``evaluation`` (LFW pair accuracy
from photos), ``index_files`` (which index, and where its file lives), ``index`` (faiss over the
people's centroids, following the store) and ``pg_index`` (the same, asked of pgvector)."""
