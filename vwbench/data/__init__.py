"""Datasets: readers for the real formats, the synthetic renderer, manifests and the shared image loader."""
