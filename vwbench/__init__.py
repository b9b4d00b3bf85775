"""vwbench: do learned visual words mean the same thing across multimodal models?"""

__version__ = "0.1.0"
