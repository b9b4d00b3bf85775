import subprocess
import sys
from importlib import metadata

import pytest

from vwbench.errors import VWBenchError
from vwbench.transfer import TransferMethod, registry

BUILTINS = ["linear_transfer", "ridge", "procrustes", "cca", "nearest_token"]


def test_describe_lists_builtins_with_first_doc_line():
    desc = registry.describe()
    assert list(desc)[:5] == BUILTINS
    assert all(desc[n] and "\n" not in desc[n] for n in BUILTINS)


def test_unknown_name_suggests():
    with pytest.raises(VWBenchError, match="did you mean 'linear_transfer'"):
        registry.get("linear_transfr")


def test_bad_parameters():
    with pytest.raises(VWBenchError, match="ridge.*accepted: lam"):
        registry.get("ridge", alpha=1.0)


def test_duplicate_names_refused():
    @registry.register("test_dup_method")
    class A(TransferMethod):
        """A."""

    try:
        with pytest.raises(VWBenchError, match="already taken"):

            @registry.register("test_dup_method")
            class B(TransferMethod):
                """B."""

        with pytest.raises(VWBenchError, match="already taken"):

            @registry.register("linear_transfer")
            class C(TransferMethod):
                """C."""
    finally:
        registry.unregister("test_dup_method")


class _Plugin(TransferMethod):
    """A plugin loaded from an entry point."""


def test_plugins_load_lazily_from_entry_points(monkeypatch):
    ep = metadata.EntryPoint("test_plugin", f"{__name__}:_Plugin", registry.ENTRY_POINT_GROUP)
    broken = metadata.EntryPoint("test_broken", "no_such_module_xyz:Nope", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry.METHODS, "_entry_points", lambda: {"test_plugin": ep, "test_broken": broken})
    try:
        assert "test_plugin" in registry.names()
        assert isinstance(registry.get("test_plugin"), _Plugin)
        desc = registry.describe()
        assert desc["test_plugin"] == "A plugin loaded from an entry point."
        assert "failed to import" in desc["test_broken"]
    finally:
        registry.unregister("test_plugin")


def test_import_and_describe_stay_light():
    code = (
        "import sys; from vwbench.transfer import registry; registry.describe(); "
        "bad = [m for m in ('diffusers', 'open_clip', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_methods_without_parameters_refuse_them():
    with pytest.raises(VWBenchError, match="linear_transfer.*no parameters"):
        registry.get("linear_transfer", lam=1.0)


def test_bad_parameter_values():
    with pytest.raises(VWBenchError, match="ridge.*lam must be > 0"):
        registry.get("ridge", lam=0)
