"""Tests of the change statistics, the metric catalogue and the tables built from them."""
