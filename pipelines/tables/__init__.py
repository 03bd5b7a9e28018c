"""Tables: metrics, changes, cohort, repeatability and the metric catalogue."""
