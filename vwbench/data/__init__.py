"""Datasets: the formats registered by name (formats/: on-disk readers and rendered ones), manifests and the
shared image loader."""
