import pytest

from core.config import ConfigError, Param, parse_assignments, resolve

PARAMS = (
    Param("learning_rate", "float", 0.1, "step size", 1e-5, 10.0, log=True, live=True),
    Param("hidden_size", "int", 16, "units", 1, 1024),
    Param("cell", "str", "lstm", "cell", choices=("rnn", "lstm", "gru")),
    Param("shuffle", "bool", True, "shuffle"),
    Param("temperatures", "floats", (0.2, 0.6, 1.2), "temps", 0.01, 5.0),
)


def test_defaults_and_overrides_are_converted():
    cfg = resolve(PARAMS, {"learning_rate": "0.5", "hidden_size": "32", "shuffle": "no", "temperatures": "0.5, 1"})
    assert cfg == {"learning_rate": 0.5, "hidden_size": 32, "cell": "lstm", "shuffle": False, "temperatures": (0.5, 1.0)}


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("learning_rate", "fast", ["learning_rate", "fast", "number"]),
        ("learning_rate", 100.0, ["learning_rate", "100", "range"]),
        ("learning_rate", "nan", ["learning_rate", "finite"]),
        ("hidden_size", 0, ["hidden_size", "0", "[1, 1024]"]),
        ("hidden_size", 2.5, ["hidden_size", "2.5", "integer"]),
        ("cell", "transformer", ["cell", "transformer", "rnn, lstm, gru"]),
        ("shuffle", "maybe", ["shuffle", "maybe"]),
        ("temperatures", "0.5,0", ["temperatures", "range"]),
        ("colour", "red", ["colour", "accepted", "hidden_size"]),
    ],
)
def test_bad_values_name_key_value_and_accepted(key, value, words):
    with pytest.raises(ConfigError) as e:
        resolve(PARAMS, {key: value})
    for w in words:
        assert w in str(e.value)
    assert isinstance(e.value, ValueError)


def test_parse_assignments():
    assert parse_assignments(["a=1", "b = x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_assignments(["novalue"])
