"""The report of a suite's records: frames, tables with their statistics, figures, conclusions, the
paper's tables, the agreement of two runs, and report.md."""
