"""Running a suite: the runner and its workers, the evaluation of one fitted method, the output
directory, and runs taken from a reference."""
