"""`--method NAME:KEY=VALUE`: parsing, one-line errors from the constructor's signature, labels with the
non-default parameters (so two parametrizations never merge), provenance of a method."""

from __future__ import annotations

from pathlib import Path

import pytest

from vwbench import method_spec
from vwbench.errors import VWBenchError

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "submissions" / "example-method"


@pytest.mark.parametrize(
    "text,value",
    [
        ("0.1", 0.1),
        ("3", 3),
        ("-2", -2),
        ("1e-3", 1e-3),
        ("true", True),
        ("False", False),
        ("none", None),
        ("null", None),
        ("cos", "cos"),
        ("", ""),
    ],
)
def test_values(text, value):
    got = method_spec.parse_value(text)
    assert got == value and type(got) is type(value)


def test_parse():
    assert method_spec.parse("ridge") == ("ridge", {})
    assert method_spec.parse("ridge:lam=0.1") == ("ridge", {"lam": 0.1})
    assert method_spec.parse("cca:k=4, reg=0.01") == ("cca", {"k": 4, "reg": 0.01})
    assert method_spec.parse(str(EXAMPLE)) == (str(EXAMPLE), {})  # an existing folder is never split
    assert method_spec.parse(f"{EXAMPLE}:lam=0.5") == (str(EXAMPLE), {"lam": 0.5})


@pytest.mark.parametrize(
    "spec,message",
    [
        ("ridge:", "NAME:KEY=VALUE"),
        ("ridge:lam", "'lam' is not KEY=VALUE"),
        ("ridge:lam=1,lam=2", "'lam' is given twice"),
        ("ridge:1x=2", "is not KEY=VALUE"),
        (":lam=1", "NAME:KEY=VALUE"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(VWBenchError, match=message):
        method_spec.parse(spec)


def test_unknown_parameter_names_the_accepted_ones():
    with pytest.raises(VWBenchError) as e:
        method_spec.load("ridge:alpha=0.1")
    assert "alpha" in str(e.value) and "accepted: lam" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(VWBenchError, match="accepted: none"):
        method_spec.load("linear_transfer:x=1")
    with pytest.raises(VWBenchError, match="lam must be > 0"):
        method_spec.load("ridge:lam=-1")


def test_labels_carry_only_non_default_parameters():
    from vwbench.transfer.cca import CCATransfer
    from vwbench.transfer.ridge import RidgeTransfer

    assert method_spec.label(method_spec.load("ridge")) == "ridge"
    assert method_spec.label(method_spec.load("ridge:lam=1")) == "ridge"  # 1 == the default 1.0
    assert method_spec.label(method_spec.load("ridge:lam=0.1")) == "ridge(lam=0.1)"
    assert method_spec.label(method_spec.load("cca:reg=0.01,k=4")) == "cca(k=4,reg=0.01)"
    assert method_spec.label(method_spec.load("procrustes:center=true")) == "procrustes(center=True)"
    # instances of the Python API are labelled the same way
    assert method_spec.label(RidgeTransfer(lam=0.1)) == "ridge(lam=0.1)"
    assert method_spec.label(CCATransfer()) == "cca"
    a, b = method_spec.load("ridge:lam=0.1"), method_spec.load("ridge:lam=10")
    assert method_spec.label(a) != method_spec.label(b) and a.params != b.params


def test_the_study_uses_the_label(tiny_suite, tmp_path):
    from vwbench.store import Store
    from vwbench.study import Study, StudyOptions, method_label

    with Store(tmp_path / "s") as store:
        study = Study(tiny_suite, store, StudyOptions(methods=["ridge:lam=0.1", "ridge"], progress=False))
        assert [method_label(m) for m in study.methods] == ["ridge(lam=0.1)", "ridge"]
        src, tgt = tiny_suite.task("generation"), tiny_suite.task("detection")
        assert study.fit_key(study.methods[0], src, tgt) != study.fit_key(study.methods[1], src, tgt)


def test_submission_parameters_and_provenance():
    default = method_spec.load(str(EXAMPLE))
    assert method_spec.label(default) == "example-centered-lstsq"  # manifest parameters are its defaults
    tuned = method_spec.load(f"{EXAMPLE}:lam=0.5")
    assert method_spec.label(tuned) == "example-centered-lstsq(lam=0.5)"
    info = method_spec.describe(tuned)
    assert info["params"] == {"lam": 0.5} and info["name"] == "example-centered-lstsq"
    assert info["submission"] == {
        "name": "example-centered-lstsq",
        "version": "1.0.0",
        "authors": ["vwbench maintainers"],
    }
    with pytest.raises(VWBenchError) as e:
        method_spec.load(f"{EXAMPLE}:alpha=1")
    assert "accepted: lam" in str(e.value) and "\n" not in str(e.value)
    assert method_spec.describe(method_spec.load("ridge")) == {
        "label": "ridge",
        "name": "ridge",
        "params": {"lam": 1.0},
        "submission": None,
    }
