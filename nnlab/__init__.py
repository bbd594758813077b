"""Instructor and TA tooling for the nn_training course, in layers that never import each other
both ways (tests/test_layers.py), in the order a submission passes through them: `authoring`
(dataset, release, demo class), `judge` (the process that runs test cells), `confinement` (the
sandbox and its limits), `steps` (the course's nbgrader steps), `grading` (one submission, the
batch, the cluster, the student's outcome), `results` (views that read what grading decided:
feedback, export, report, similarity)."""

ASSIGNMENT = "nn_training"
# One thread per math library in every process that computes for a grading (its kernels, its
# judges, the grader itself): a grading is one core's share of the machine.
THREAD_LIMITS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
