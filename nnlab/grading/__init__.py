"""Grading: intake, the course's nbgrader steps, guarded sandboxed execution, tampering
checks, points held for review, each student's outcome, the batch, its ledger and the late policy."""
