"""Outputs: tables written as CSV/Parquet/JSON (:mod:`.export`) and the HTML report (:mod:`.report`)."""
