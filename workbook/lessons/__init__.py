"""What the notebooks' lessons use and library code does not: set-up, exercise self-checks, recorded kernel runs."""
