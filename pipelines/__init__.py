"""skintex pipelines: folders of images in, tables (metrics, changes, errors) and a report out."""

from pipelines.run import RunResult, analyze_folder

__all__ = ["RunResult", "analyze_folder"]
