import json
from importlib import resources

import pytest

from uara.solvers import get_solver
from uara.scenario.random_instance import random_instance

jsonschema = pytest.importorskip("jsonschema")


def _schema(name):
    return json.loads(resources.files("uara.model").joinpath(f"schema/{name}.schema.json").read_text())


def test_instances_and_solutions_match_their_schemas(tmp_path):
    inst = random_instance(6, 3, slots=2, seed=1)
    jsonschema.validate(inst.to_dict(), _schema("instance"))
    sol = get_solver("tma").solve(inst)
    jsonschema.validate(json.loads(json.dumps(sol.to_dict())), _schema("solution"))


def test_schema_rejects_what_the_loader_rejects():
    d = random_instance(3, 2).to_dict()
    d["slots"][0]["battery"][0] = 0.0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, _schema("instance"))


def test_shipped_instances_match_the_schema():
    from pathlib import Path

    files = sorted(Path(__file__).resolve().parent.parent.joinpath("instances").glob("m*_e*.json"))
    assert files, "no shipped instances"
    schema = _schema("instance")
    for f in files:
        data = json.loads(f.read_text())
        assert data.get("format") == "uara-instance/1", f
        jsonschema.validate(data, schema)
