"""``--set KEY=VALUE`` overrides: parsing, merging, validation, the frozen spec, refusals."""

from __future__ import annotations

import dataclasses
import doctest
import tomllib

import pytest

import sweeps
from sweeps import overrides
from sweeps.overrides import apply_overrides, describe_changes, parse_override
from xorsweep.cli import main


def _tiny_spec(tmp_path, text='name = "tiny"\nepochs = 1\nreplicates = 1\n'):
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "path", "value"), [
    ("epochs=1000", ("epochs",), 1000),
    (" epochs = 7 ", ("epochs",), 7),
    ("grid.lr=[0.5,2.0]", ("grid", "lr"), [0.5, 2.0]),
    ("grid.init_scale={linspace=[0.5,4,8]}", ("grid", "init_scale"), {"linspace": [0.5, 4, 8]}),
    ('grid.init=["xavier", "he"]', ("grid", "init"), ["xavier", "he"]),
    ('init_values."W1[0,1]"=0.5', ("init_values", "W1[0,1]"), 0.5),
    ("target_error=5e-2", ("target_error",), 0.05),
    ('description="a=b"', ("description",), "a=b"),       # split at the first '='
    ("name=lr-wide", ("name",), "lr-wide"),               # a bare word: a string
    ("dtype=float32", ("dtype",), "float32"),
    ("name=v1.0", ("name",), "v1.0"),
    ('name="1000"', ("name",), "1000"),                   # quoted: a string, not a number
])
def test_overrides_parse_key_paths_and_toml_values(text, path, value):
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize(("text", "message"), [
    ("epochs", "override 'epochs' has no '='; write KEY=VALUE"),
    ("=5", "override '=5' has no key before '='"),
    ("epochs=", "override 'epochs=' has no value; give a TOML value"),
    ("grid.lr=[0.5,2.0", r"override 'grid.lr=\[0.5,2.0': '\[0.5,2.0' is not a TOML value "
                         r"\(Unclosed array\); quote strings and close brackets"),
    ("grid.init=[xavier]", "is not a TOML value"),       # bare words only stand alone
    ("epochs=1x", "override 'epochs=1x': '1x' is not a TOML value"),
    ("a..b=1", "override 'a..b=1': 'a..b' is not a dotted key"),
    ("[grid]=1", "is not a dotted key"),
    ("epochs=1\nseed=3", "the value holds more than one TOML value"),
    ("grid.lr.x=1", r"override 'grid.lr.x=1': grid.lr is \[1.0\], not a table; set grid.lr "
                    "itself"),
])
def test_bad_overrides_are_one_line_naming_the_override(tmp_path, capsys, text, message):
    data = {"name": "tiny", "epochs": 1, "replicates": 1, "grid": {"lr": [1.0]}}
    with pytest.raises(sweeps.SpecError, match=message) as info:
        apply_overrides(data, [text])
    assert "\n" not in str(info.value)
    path = _tiny_spec(tmp_path, 'name = "tiny"\nepochs = 1\nreplicates = 1\n[grid]\nlr = [1.0]\n')
    out = tmp_path / "runs"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--set", text]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xorsweep: error: override ")
    assert err.count("\n") == 1
    assert not out.exists()


def test_overrides_merge_nested_tables_in_order_and_leave_the_input_alone():
    data = {"name": "t", "epochs": 3000, "grid": {"lr": [1.0], "init": ["uniform"]}}
    merged = apply_overrides(data, [
        "epochs=1000", "grid.lr=[0.5, 2.0]", "grid.init_scale={linspace=[0.5, 4, 8]}",
        'init_values."W1[0,1]"=0.5', "init_values.b2=-0.25", "epochs=10"])
    assert merged == {"name": "t", "epochs": 10,
                      "grid": {"lr": [0.5, 2.0], "init": ["uniform"],
                               "init_scale": {"linspace": [0.5, 4, 8]}},
                      "init_values": {"W1[0,1]": 0.5, "b2": -0.25}}
    assert data == {"name": "t", "epochs": 3000, "grid": {"lr": [1.0], "init": ["uniform"]}}
    assert apply_overrides(data, ["grid={}"])["grid"] == {}  # a table replaced whole


def test_overrides_are_validated_as_a_file_is(tmp_path):
    path = _tiny_spec(tmp_path)
    spec = sweeps.load_spec(path, overrides=["epochs=20", "grid.lr=[0.5, 2.0]",
                                             "grid.init_scale={linspace=[0.5, 4, 8]}",
                                             "dtype=float32", "name=tiny-20"])
    assert (spec.name, spec.epochs, spec.dtype) == ("tiny-20", 20, "float32")
    assert spec.grid["lr"] == (0.5, 2.0)
    assert spec.grid["init_scale"] == (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
    assert spec.n_networks == 16
    # the same spec from a file that says so
    text = path.read_text().replace('"tiny"', '"tiny-20"').replace("epochs = 1", "epochs = 20")
    same = _tiny_spec(tmp_path, text + 'dtype = "float32"\n[grid]\nlr = [0.5, 2.0]\n'
                                       "init_scale = { linspace = [0.5, 4, 8] }\n")
    from_file = sweeps.load_spec(same)
    assert spec == dataclasses.replace(from_file, description=spec.description)
    # the description notes what was set, but the name, so that it does not mislead
    assert spec.description == (f"{from_file.description} (--set epochs=20, grid.lr=[0.5, 2.0], "
                                 "grid.init_scale={linspace=[0.5, 4, 8]}, dtype=float32)"
                                 ).lstrip()
    assert spec.digest() == from_file.digest()
    assert sweeps.load_spec(path, overrides=["name=other"]).description == from_file.description
    assert sweeps.load_spec(path, overrides=["epochs=20", "description=mine"]).description == \
        "mine"
    assert sweeps.load_spec(sweeps.load_spec(path), overrides=["epochs=20"]).epochs == 20
    for bad, message in [("epoch=10", "unknown key 'epoch'; valid keys are"),
                         ("grid.width=[2]", "unknown grid axis 'width'"),
                         ("epochs=0", "epochs = 0 must be a positive integer"),
                         ("grid.lr=0.5", "grid.lr must be a list or a range table"),
                         ('init_values."W1[5,0]"=1.0', "W1[5,0]: input 5 does not exist")]:
        with pytest.raises(sweeps.SpecError, match=message.replace("[", r"\[")):
            sweeps.load_spec(path, overrides=[bad])


def test_examples_in_the_docstrings_hold():
    assert doctest.testmod(overrides).failed == 0


def test_the_frozen_spec_is_the_merged_spec(tmp_path, capsys):
    path = _tiny_spec(tmp_path)
    sets = ["epochs=2", "grid.lr=[0.5,2.0]", "grid.init_scale={linspace=[0.5,4,3]}"]
    argv = ["run", str(path), "--out", str(tmp_path / "runs"), "--quiet", "--jobs", "1"]
    assert main([*argv, *(w for s in sets for w in ("--set", s))]) == 0
    assert "tiny: 6 networks x 2 epochs done" in capsys.readouterr().out
    frozen = (tmp_path / "runs" / "tiny" / "spec.toml").read_text()
    merged = sweeps.load_spec(path, overrides=sets)
    assert frozen == merged.to_toml()
    data = tomllib.loads(frozen)
    assert data["epochs"] == 2
    assert data["grid"]["lr"] == [0.5, 2.0]
    assert data["grid"]["init_scale"] == [0.5, 2.25, 4.0]
    # the frozen file reruns the run as it is, without the overrides
    assert main(["run", str(tmp_path / "runs" / "tiny" / "spec.toml"),
                 "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    assert "already complete (6 networks x 2 epochs)" in capsys.readouterr().out


def test_a_changed_spec_is_refused_naming_the_keys_that_differ(tmp_path, capsys):
    path = _tiny_spec(tmp_path)
    out = tmp_path / "runs"
    argv = ["run", str(path), "--out", str(out), "--quiet", "--jobs", "1"]
    assert main([*argv, "--set", "epochs=3"]) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in (out / "tiny").rglob("*") if p.is_file()}
    assert main([*argv, "--set", "epochs=2", "--set", "grid.lr=[0.5, 2.0]"]) == 2
    err = capsys.readouterr().err
    assert err == (f"xorsweep: error: {out / 'tiny'} holds a run of a different spec (epochs: "
                   "3 -> 2, grid.lr: [1.0] -> [0.5, 2.0]); give the new one another name "
                   "(--set name=NEW) or another --out, or use --force to start over\n")
    assert {p: p.read_bytes() for p in (out / "tiny").rglob("*") if p.is_file()} == before
    # an edited file is refused the same way
    path.write_text(path.read_text().replace("epochs = 1", "epochs = 4"))
    assert main(argv) == 2
    assert "(epochs: 3 -> 4); give" in capsys.readouterr().err
    # a new name keeps both runs
    assert main([*argv, "--set", "epochs=2", "--set", "name=tiny-2"]) == 0
    assert (out / "tiny-2" / "manifest.json").is_file()
    assert {p: p.read_bytes() for p in (out / "tiny").rglob("*") if p.is_file()} == before


def test_describe_changes_names_a_few_keys_and_cuts_long_values():
    old = {"name": "a", "description": "x", "epochs": 3000, "seed": 0,
           "grid": {"lr": [1.0], "init_scale": [float(v) for v in range(1, 30)]}}
    new = {"name": "b", "description": "y", "epochs": 1000, "seed": 1, "criterion": "fahlman",
           "grid": {"lr": [0.5, 2.0], "init_scale": [1.0]}}
    assert describe_changes(old, old | {"name": "b", "description": "y"}) == ""
    assert describe_changes(old, new, limit=10) == (
        'epochs: 3000 -> 1000, seed: 0 -> 1, criterion: (unset) -> "fahlman", grid.lr: '
        "[1.0] -> [0.5, 2.0], grid.init_scale: [1.0, 2.0, 3.0, 4.0, 5.0, 6... -> [1.0]")
    assert describe_changes(old, new) == ('epochs: 3000 -> 1000, seed: 0 -> 1, criterion: '
                                          '(unset) -> "fahlman", and 2 more')


def test_an_interrupted_run_says_how_to_resume_with_its_overrides(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweeps, "run", interrupted)
    path = _tiny_spec(tmp_path)
    assert main(["run", str(path), "--out", "o", "--set", "grid.lr=[0.5, 2.0]"]) == 130
    err = capsys.readouterr().err
    assert err.endswith(f"Resume with: xorsweep run {path} --out o --set "
                        "'grid.lr=[0.5, 2.0]'\n")
