"""Attack tests, one file per class of attack, each named after what it proves."""
