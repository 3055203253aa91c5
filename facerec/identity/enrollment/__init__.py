"""Enrollment: turning a person's photos into samples in the store.

``results`` holds the plain results (EnrollReport, Skipped, Identified) and what enrollment
accepts as photos; ``pipeline`` the steps from photos to stored samples; ``claims`` the check
that a face is not someone else's already. The results are re-exported here, where callers have
always imported them from; the pipeline is imported from its module, so that reading a result
type never loads the pipeline's parts.
"""

from facerec.identity.enrollment.results import (
    EnrollmentImages,
    EnrollReport,
    Identified,
    Skipped,
    Upload,
    enrollment_images,
)

__all__ = ["EnrollReport", "EnrollmentImages", "Identified", "Skipped", "Upload", "enrollment_images"]
