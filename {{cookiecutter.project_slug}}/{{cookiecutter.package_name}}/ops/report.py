"""What `make doctor` found: each check's outcome, printed as it comes."""

from __future__ import annotations


class Report:
    """Collects the checks' outcomes and prints each as it comes."""

    def __init__(self) -> None:
        self.problems = 0

    def ok(self, message: str) -> None:
        print(f"ok: {message}")

    def problem(self, message: str, fix: str) -> None:
        self.problems += 1
        print(f"problem: {message}. Fix: {fix}")
