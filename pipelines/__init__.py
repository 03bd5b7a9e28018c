"""skintex pipelines: folders of images in, tables (metrics, changes, errors) and a report out."""
