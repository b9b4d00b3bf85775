"""vwbench: do learned visual words mean the same thing across multimodal models?

The Python API (docs/api.md), resolved lazily so that `import vwbench` stays light:

    vwbench.run(suite="tiny", methods=["linear_transfer"], store=..., out=...) -> results.json document
    vwbench.Study, vwbench.StudyOptions      the run loop and its options (vwbench/study/)
    vwbench.Selection                        --task/--dataset/--concept/--limit (vwbench/selection.py)
    vwbench.Store                            the results store (vwbench/store.py)
    vwbench.SpecLibrary                      suites, tasks and datasets from a spec folder (vwbench/spec/)
    vwbench.build_leaderboard                leaderboards from a store (vwbench/report)
    vwbench.VWBenchError                     what bad input raises
"""

__version__ = "0.1.0"

# public name -> (module, attribute); imported on first access
_LAZY = {
    "run": ("vwbench.api", "run"),
    "Study": ("vwbench.study", "Study"),
    "StudyOptions": ("vwbench.study", "StudyOptions"),
    "Selection": ("vwbench.selection", "Selection"),
    "Store": ("vwbench.store", "Store"),
    "SpecLibrary": ("vwbench.spec", "SpecLibrary"),
    "build_leaderboard": ("vwbench.report", "build_leaderboard"),
    "VWBenchError": ("vwbench.errors", "VWBenchError"),
}

__all__ = [
    "Selection",
    "SpecLibrary",
    "Store",
    "Study",
    "StudyOptions",
    "VWBenchError",
    "__version__",
    "build_leaderboard",
    "run",
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'vwbench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
