"""Grading: intake, the course's nbgrader steps, guarded sandboxed execution, tampering
checks, the batch, its ledger and the late policy."""
