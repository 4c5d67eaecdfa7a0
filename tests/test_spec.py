from __future__ import annotations

import re

import numpy as np
import pytest

import kernels
import sweeps
from sweeps.spec import (
    AXES,
    DEFAULTS,
    MAX_AXIS_VALUES,
    MAX_EPOCHS,
    MAX_NAME,
    MAX_NETWORKS,
    MAX_RECORDED,
)
from xorsweep.cli import main

GOOD = """
name = "t"
epochs = 10
replicates = 3

[grid]
lr = [0.5, 1.0]
"""

BAD = [
    ('bogus = 1', "unknown key 'bogus'"),
    ('epochs = 0', "epochs = 0 must be a positive integer"),
    ('epochs = "10"', "epochs = '10' must be a positive integer"),
    ('replicates = -1', "replicates = -1 must be a positive integer"),
    ('record_every = 0', "record_every = 0 must be a positive integer"),
    ('target_error = 0.6', r"target_error = 0.6 must be a number in \(0, 0.5\]"),
    ('target_error = 0', r"target_error = 0 must be a number in \(0, 0.5\]"),
    ('task = "xnor"', "task = 'xnor' is unknown; use one of xor"),
    ('dtype = "float16"', "dtype = 'float16' is unknown"),
    ('seed = -1', "seed = -1 must be an integer from 0"),
    ('[grid]\nlr = []', "grid.lr is empty"),
    ('[grid]\nlr = [0.0]', "grid.lr: 0.0 must be > 0"),
    ('[grid]\nlr = [1.0, 1.0]', "grid.lr: duplicate value 1.0"),
    ('[grid]\nmomentum = [1.0]', r"grid.momentum: momentum must be in \[0, 1\)"),
    ('[grid]\ninit = ["glorot"]', "grid.init: 'glorot' is unknown; use one of uniform"),
    ('[grid]\nactivation = ["gelu"]', "grid.activation: 'gelu' is unknown"),
    ('[grid]\nloss = ["l1"]', "grid.loss: 'l1' is unknown"),
    ('[grid]\nhidden = [0]', "grid.hidden: 0 must be an integer from 1"),
    ('[grid]\nwidth = [2]', "unknown grid axis 'width'"),
    ('[grid]\nlr = 0.5', "grid.lr must be a list or a range table"),
    ('[grid]\nlr = { geomspace = [1, 2, 3] }', "must have exactly one of linspace"),
    ('[grid]\nlr = { linspace = [1, 2] }', r"grid.lr.linspace must be a list of three numbers"),
    ('[grid]\nlr = { logspace = [-1, 1, 0] }', "the count 0 must be an integer from 1"),
    ('[grid]\nlr = { linspace = [0, 1, 3] }', "grid.lr: 0.0 must be > 0"),
    ('dtype = "float32"\n[grid]\nlr = [1e300]',
     r'grid.lr: 1e\+300 overflows float32 \(largest 3.403e\+38\); use a smaller lr, or '
     r'dtype = "float64"'),
    ('dtype = "float32"\n[grid]\nlr = [1e-50, 1.0]',
     r'grid.lr: 1e-50 rounds to 0 in float32; use lr >= 1.401e-45, or dtype = "float64"'),
]


def _spec_text(extra: str, name: str = "t") -> str:
    top, _, grid = extra.partition("[grid]")
    return f'name = "{name}"\n{top}\n' + (f"[grid]{grid}\n" if grid else "")


@pytest.mark.parametrize(("extra", "message"), BAD)
def test_bad_specs_raise_one_line_and_cli_exits_2(tmp_path, capsys, extra, message):
    path = tmp_path / "s.toml"
    path.write_text(_spec_text(extra))
    with pytest.raises(sweeps.SpecError, match=message):
        sweeps.load_spec(path)
    out = tmp_path / "runs"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "error:" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "..", ".hidden", "evil\n", "t\r",
                                  "a\x00b", "caf\u00e9"])
def test_unsafe_names(name):
    with pytest.raises(sweeps.SpecError, match="not a safe directory name"):
        sweeps.load_spec({"name": name})


def test_name_too_long_for_a_directory():
    sweeps.load_spec({"name": "n" * MAX_NAME})
    with pytest.raises(sweeps.SpecError, match=f"has {MAX_NAME + 1} characters; use at most"):
        sweeps.load_spec({"name": "n" * (MAX_NAME + 1)})


#: Malformed specs as a new user might write them, and the key each refusal must name.
#: Each is refused by load_spec and by ``xorsweep run`` (exit 2, one short stderr line,
#: nothing written), within validation: none of them reaches the kernels.
MALFORMED = [
    ("replicates = 1000000000000", "replicates"),
    (f"replicates = {MAX_NETWORKS // 8 + 1}\n[grid]\nlr = [0.1, 0.2, 0.5, 1, 2, 3, 4, 5]",
     "replicates"),
    ("epochs = 9223372036854775807", "epochs"),
    (f"epochs = {MAX_EPOCHS + 1}\nrecord_every = {MAX_EPOCHS}", "epochs"),
    ("epochs = 1000000\nrecord_every = 1", "record_every"),
    ('dtype = "float32"\n[grid]\nmomentum = [0.5, 0.99999999]', "grid.momentum"),
    ('[grid]\ninit = ["normal"]\ninit_scale = [1e308]', "grid.init_scale"),
    ('[grid]\ninit = ["uniform", "he"]\ninit_scale = [2e307]', "grid.init_scale"),
    ('dtype = "float32"\n[grid]\ninit_scale = [1e39]', "grid.init_scale"),
    ("[grid]\nlr = [1" + "0" * 400 + "]", "grid.lr"),
    ("[init_values]\nb2 = 1" + "0" * 400, "init_values.b2"),
    ("[init_values]\nb2 = nan", "init_values.b2"),
    ('[grid]\n"W2[0]" = [-1' + "0" * 400 + "]", "grid.W2[0]"),
    ("[grid]\nlr = { logspace = [0, 400, 3] }", "grid.lr.logspace"),
    ("[grid]\nlr = { logspace = [0, 1, 1e3] }", "grid.lr.logspace"),
    ("[grid]\nlr = { linspace = [0.1, 1, 1000000000000] }", "grid.lr.linspace"),
    ("[grid]\nlr = { linspace = [0.1, inf, 3] }", "grid.lr.linspace"),
    ("[grid]\nlr = { linspace = [1" + "0" * 400 + ", 1, 3] }", "grid.lr.linspace"),
    ("[grid]\ninit_scale = { linspace = [-1.7e308, 1.7e308, 3] }", "grid.init_scale.linspace"),
    ("[grid]\nhidden = { range = [1, 1000000000000000000, 1] }", "grid.hidden.range"),
    ("[grid]\nlr = { range = [-9223372036854775807, 9223372036854775807, 1] }",
     "grid.lr.range"),
    ("[grid]\nlr = { logspace = [-1, 1, 100001] }", "grid.lr.logspace"),
    ("[grid]\nlr = [nan]", "grid.lr"),
    ("[grid]\nlr = [-inf]", "grid.lr"),
    ("[grid]\nlr = [true]", "grid.lr"),
    ('[grid]\nlr = ["0.5"]', "grid.lr"),
    ("[grid]\nlr = [[0.5]]", "grid.lr"),
    ("[grid]\nlr = [{ a = 1 }]", "grid.lr"),
    ("[grid]\nlr = {}", "grid.lr"),
    ("[grid]\nlr = true", "grid.lr"),
    ("[grid]\nlr = [1, 1.0]", "grid.lr"),
    ("[grid]\nhidden = [2.0]", "grid.hidden"),
    ("[grid]\nhidden = [2, 2]", "grid.hidden"),
    ('[grid]\ninit = [["uniform"]]', "grid.init"),
    ('[grid]\ninit = "uniform"', "grid.init"),
    ("[grid]\nloss = [{}]", "grid.loss"),
    ("[grid]\nmomentum = [-0.5]", "grid.momentum"),
    ("[grid]\ntask = []", "grid.task"),
    ('[grid]\n"x\\ny" = [1]', "unknown grid axis 'x\\ny'"),
    ("[grid]\n[grid.lr]", "grid.lr"),
    ("[[grid]]\nlr = [1.0]", "grid"),
    ("grid = [1, 2]", "grid"),
    ("init_values = [1]", "init_values"),
    ("epochs = true", "epochs"),
    ("epochs = -5", "epochs"),
    ("epochs = nan", "epochs"),
    ("replicates = inf", "replicates"),
    ("replicates = 0", "replicates"),
    ("record_every = [50]", "record_every"),
    ("seed = 1.5", "seed"),
    ("target_error = nan", "target_error"),
    ("target_error = inf", "target_error"),
    ('dtype = ["float32"]', "dtype"),
    ("task = 1", "task"),
    ('task = "xor\\n"', "task"),
    ("description = 5", "description"),
    ('description = "' + "d" * 20_000 + '"', "description"),
    ('criterion = "strict"', "criterion"),
    ("k" * 5000 + " = 1", "unknown key 'kkk"),
    ('name = "evil\\n"', "name"),
    ('name = "' + "n" * 300 + '"', "name"),
    ("name = 1", "name"),
]


@pytest.mark.parametrize(("text", "key"), MALFORMED, ids=[k for _, k in MALFORMED])
def test_malformed_specs_are_refused_in_one_line_before_writing(tmp_path, capsys, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text if text.startswith("name =") else f'name = "t"\n{text}\n')
    with pytest.raises(sweeps.SpecError) as info:
        sweeps.load_spec(path)
    assert key in str(info.value)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xorsweep: error: ")
    assert err.count("\n") == 1
    assert key in err
    assert len(err) < 400  # long values are cut short
    assert not out.exists()


@pytest.mark.parametrize(("text", "message"), [
    ("\ufeffname = \"b\"\n", r"starts with a byte order mark \(U\+FEFF\), which TOML"),
    ('name = "d"\nx = ' + "[" * 100_000 + "1" + "]" * 100_000 + "\n", "nested too deeply"),
    ('name = "n"\nepochs = ' + "9" * 5000 + "\n", "holds a number of thousands of digits"),
])
def test_spec_files_python_cannot_read_as_toml_are_one_line(tmp_path, text, message):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(sweeps.SpecError, match=f"s.toml: {message}"):
        sweeps.load_spec(path)


def test_spec_that_is_not_utf8(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b'name = "t"\ndescription = "caf\xe9"\n')  # Latin-1
    with pytest.raises(sweeps.SpecError, match="not UTF-8 text .* save the spec as UTF-8"):
        sweeps.load_spec(path)


def test_limits_are_inclusive():
    spec = sweeps.load_spec({"name": "t", "epochs": MAX_EPOCHS, "record_every": MAX_EPOCHS,
                             "replicates": MAX_NETWORKS // 2, "grid": {"lr": [0.5, 1.0]}})
    assert spec.n_networks == MAX_NETWORKS
    spec = sweeps.load_spec({"name": "t", "epochs": 10 * (MAX_RECORDED - 1),
                             "record_every": 10})
    assert len(kernels.record_epochs(spec.epochs, spec.record_every)) == MAX_RECORDED
    spec = sweeps.load_spec({"name": "t", "grid": {"lr": {"logspace": [-3, 0, MAX_AXIS_VALUES]}},
                             "dtype": "float32"})
    assert len(spec.grid["lr"]) == MAX_AXIS_VALUES
    top = float(np.nextafter(np.float32(1), np.float32(0)))
    assert sweeps.load_spec({"name": "t", "dtype": "float32",
                             "grid": {"momentum": [top]}}).grid["momentum"] == (top,)
    big = float(np.finfo(np.float32).max)
    assert sweeps.load_spec({"name": "t", "dtype": "float32",
                             "grid": {"init_scale": [big]}}).grid["init_scale"] == (big,)


def test_the_record_every_the_message_suggests_is_accepted():
    with pytest.raises(sweeps.SpecError, match=r"use record_every >= (\d+)") as info:
        sweeps.load_spec({"name": "t", "epochs": 987_654_321, "record_every": 7})
    least = int(re.search(r"record_every >= (\d+)", str(info.value)).group(1))
    sweeps.load_spec({"name": "t", "epochs": 987_654_321, "record_every": least})


def test_missing_name_and_bad_toml(tmp_path):
    with pytest.raises(sweeps.SpecError, match="missing key 'name'"):
        sweeps.load_spec({})
    path = tmp_path / "s.toml"
    path.write_text("name = ")
    with pytest.raises(sweeps.SpecError, match="not valid TOML"):
        sweeps.load_spec(path)
    with pytest.raises(sweeps.SpecError, match="neither a TOML file nor a bundled spec"):
        sweeps.load_spec(tmp_path / "nope.toml")


def test_defaults_and_ranges(tmp_path):
    spec = sweeps.load_spec({"name": "d"})
    for key, value in DEFAULTS.items():
        if key != "grid":
            assert getattr(spec, key) == value
    assert {a: list(v) for a, v in spec.grid.items()} == DEFAULTS["grid"] | {"task": ["xor"]}
    spec = sweeps.load_spec({"name": "r", "grid": {
        "lr": {"logspace": [-1, 1, 3]}, "init_scale": {"linspace": [1, 2, 3]},
        "hidden": {"range": [1, 7, 2]}}})
    np.testing.assert_allclose(spec.grid["lr"], [0.1, 1.0, 10.0])
    assert spec.grid["init_scale"] == (1.0, 1.5, 2.0)
    assert spec.grid["hidden"] == (1, 3, 5)
    assert spec.n_cells == 27


def test_toml_round_trip_and_digest(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(GOOD)
    spec = sweeps.load_spec(path)
    again = tmp_path / "again.toml"
    again.write_text(spec.to_toml())
    assert sweeps.load_spec(again) == spec
    assert sweeps.load_spec(again).digest() == spec.digest()
    other = sweeps.load_spec(spec.to_dict() | {"epochs": 11})
    assert other.digest() != spec.digest()


def test_bundled_specs_are_valid():
    names = set(sweeps.bundled_specs())
    assert {"quickstart", "lr-vs-init", "hidden-width", "activations", "kolen-pollack-slice",
            "kolen-pollack-range", "init-schemes", "parity", "lr-momentum-sobol"} <= names
    for name in names:
        spec = sweeps.load_spec(name)
        assert spec.name == name
        assert len(spec.description) > 40, name  # a note on what the study shows
        sampled = set(spec.sample.axes) if spec.sample else set()
        assert set(AXES) <= set(spec.grid) | sampled
        assert not set(spec.grid) & sampled


def test_bundled_studies_are_what_their_notes_say():
    kp = sweeps.load_spec("kolen-pollack-slice")
    assert kp.param_axes == ("W1[0,1]", "W2[1]")
    assert [len(kp.grid[a]) for a in kp.param_axes] == [200, 200]
    assert (min(kp.grid["W2[1]"]), max(kp.grid["W2[1]"])) == (-10.0, 10.0)
    assert (kp.criterion, kp.target_error, kp.epochs, kp.replicates) == ("right-side", 0.5,
                                                                         200, 1)
    assert len(kp.init_values) == 7  # the other seven weights fixed
    rng = sweeps.load_spec("kolen-pollack-range")
    assert rng.grid["lr"] == (2.0, 4.0)  # the paper's 1 and 2 on 1/2 SSE, x S/2 = 2
    assert rng.grid["momentum"] == (0.0, 0.5, 0.9)
    np.testing.assert_allclose([min(rng.grid["init_scale"]), max(rng.grid["init_scale"])],
                               [0.1, 10])
    assert sweeps.load_spec("init-schemes").grid["init"] == ("uniform", "normal", "xavier", "he")
    parity = sweeps.load_spec("parity")
    assert parity.tasks == ("parity2", "parity3", "parity4", "parity5")


def test_digests_of_existing_specs_did_not_change():
    # runs must resume on any machine (the manifest stores the digest).  These are the
    # digests with correctly rounded logspace values; np.logspace's would make them
    # CPU-dependent (AVX-512 machines give 193ef7c9... and dfa3b968...)
    assert sweeps.load_spec("quickstart").digest() == (
        "a2937643312b6be0e8fc834cf15f03afc2568a039c17490c70966f2b3598b340")
    assert sweeps.load_spec("lr-vs-init").digest() == (
        "744f6068bd8e1873e4597e24eff636533b3c64a36f2bfd49cb6304ef9d06cea0")


def test_logspace_values_are_correctly_rounded():
    from decimal import Decimal, localcontext

    spec = sweeps.load_spec({"name": "t", "task": "xor", "epochs": 1,
                             "grid": {"lr": {"logspace": [-1, 1.5, 11]},
                                      "init_scale": {"logspace": [-1, 1, 13]}}})
    for key, (start, stop, n) in (("lr", (-1, 1.5, 11)), ("init_scale", (-1, 1, 13))):
        with localcontext() as ctx:
            ctx.prec = 50
            exact = [float(Decimal(10) ** Decimal(float(e)))
                     for e in np.linspace(start, stop, n)]
        assert list(spec.grid[key]) == exact


def test_a_dict_spec_may_hold_numpy_values():
    import numpy as np

    plain = sweeps.load_spec({"name": "np", "epochs": 10, "replicates": 2,
                       "grid": {"lr": [0.1, 1.0, 10.0], "momentum": [0.0, 0.5]}})
    numpy = sweeps.load_spec({"name": "np", "epochs": np.int64(10), "replicates": np.int32(2),
                       "grid": {"lr": np.geomspace(0.1, 10.0, 3),
                                "momentum": (np.float64(0.0), np.float32(0.5))}})
    assert numpy.to_toml() == plain.to_toml()
    assert numpy.digest() == plain.digest()
