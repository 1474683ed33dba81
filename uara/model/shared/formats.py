"""Every file-format tag of the toolkit, stated once (docs/formats.md describes each format).

A JSON record names its format in its ``format`` field; a reader compares against these
constants and never spells a tag itself, so a new version of a format is one edit here.
"""

from __future__ import annotations

# the two problem families (uara.model.shared.family)
INSTANCE_FORMAT = "uara-instance/1"
SOLUTION_FORMAT = "uara-solution/1"
PIPELINE_INSTANCE_FORMAT = "uara-pipeline-instance/1"
PIPELINE_SOLUTION_FORMAT = "uara-pipeline-solution/1"

# scenario building and data
BUILD_FORMAT = "uara-build/1"
CATALOG_FORMAT = "uara-catalog/1"
SERVER_HARDWARE_FORMAT = "uara-server-hardware/1"

# experiments
COMPARE_FORMAT = "uara-compare/1"
BOUNDS_FORMAT = "uara-bounds/1"
CONIC_FORMAT = "uara-conic/1"  # uara export --format cvxpy-json: one slot's conic data (uara.solvers.model_export)
EPISODE_FORMAT = "uara-episode/1"

# the learned solver
MASAC_CHECKPOINT_FORMAT = "uara-masac/1"
MASAC_RESUME_FORMAT = "uara-masac-resume/1"
PREF_CHECKPOINT_FORMAT = "uara-pref/1"  # learned-pref's network (uara.rl.preference)
TEACHER_FORMAT = "uara-teacher-associations/1"  # its imitation data (uara.experiments.studies.teacher_associations)

# speculative decoding
PSD_PROFILE_FORMAT = "uara-psd-profile/1"
PSD_VALIDATION_FORMAT = "uara-psd-validation/1"
DRAFT_BUILD_FORMAT = "uara-draft-build/1"
