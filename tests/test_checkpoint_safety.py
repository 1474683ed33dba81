"""No code from a file: a checkpoint is read as data (tensors and plain containers), never unpickled
into arbitrary objects. A planted payload (an object whose unpickling runs a command) is offered
through every door a user can open: ``uara solve --policy``, a ``uara compare -o masac:policy=``
option (run in a worker), ``uara train masac --resume``, and the Python loader. Nothing may run;
each door answers with one line naming the file.

A grep-level check keeps it so: no source module unpickles, evals or execs file data.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from uara.cli import main  # noqa: E402
from uara.errors import UaraError  # noqa: E402
from uara.scenario.random_instance import random_instance  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class _Payload:
    """Unpickling this calls ``Path.touch(marker)``: proof that code from the file ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def plant(path: Path, marker: Path, blob: dict) -> Path:
    """A checkpoint that looks like ours (right format tag) with the payload inside it."""
    torch.save({**blob, "payload": _Payload(marker)}, path)
    return path


@pytest.fixture()
def instance_file(tmp_path: Path) -> Path:
    inst = random_instance(6, 2, seed=3)
    return inst.save(tmp_path / "inst.json")


def test_planted_policy_is_refused_by_the_loader(tmp_path):
    from uara.rl.policy import CHECKPOINT_FORMAT, load_policy

    marker = tmp_path / "ran"
    evil = plant(tmp_path / "evil.pt", marker, {"format": CHECKPOINT_FORMAT})
    with pytest.raises(UaraError, match="as data"):
        load_policy(evil)
    assert not marker.exists()


def test_planted_policy_through_uara_solve(tmp_path, instance_file, capsys):
    from uara.rl.policy import CHECKPOINT_FORMAT

    marker = tmp_path / "ran"
    evil = plant(tmp_path / "evil.pt", marker, {"format": CHECKPOINT_FORMAT})
    out = tmp_path / "sol.json"
    assert main(["solve", str(instance_file), "--solver", "masac", "--policy", str(evil), "-O", str(out)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "evil.pt" in err[0], err
    assert not marker.exists() and not out.exists()


def test_planted_policy_through_a_compare_option(tmp_path, instance_file):
    pytest.importorskip("pandas")
    from uara.rl.policy import CHECKPOINT_FORMAT

    marker = tmp_path / "ran"
    evil = plant(tmp_path / "evil.pt", marker, {"format": CHECKPOINT_FORMAT})
    main(["compare", str(instance_file), "--solvers", "masac", "-o", f"masac:policy={evil}",
          "--time-limit", "20", "--no-bounds", "-O", str(tmp_path / "cmp")])
    assert not marker.exists()


def test_planted_resume_file_through_uara_train(tmp_path, capsys):
    from uara.rl.trainer import RESUME_FORMAT, resume_path

    marker = tmp_path / "ran"
    output = tmp_path / "policy.pt"
    plant(resume_path(output), marker, {"format": RESUME_FORMAT, "step": 1})
    code = main(["train", "masac", "--output", str(output), "--resume", "--steps", "2", "--no-progress"])
    assert code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "as data" in err[0], err
    assert not marker.exists()


def test_a_real_resume_file_still_resumes(tmp_path):
    """The data-only format round-trips: replay buffer, both generators and the curve come back."""
    from uara.rl.train_args import MASACArgs
    from uara.rl.trainer import resume_path, train

    args = MASACArgs(total_steps=6, learning_starts=2, batch_size=2, eval_every=3, train_instances=2,
                     train_m=(4,), train_e=(2,), train_slots=2, eval_sizes=((4, 2),), eval_slots=1, seed=0,
                     device="cpu")
    out = tmp_path / "p.pt"
    train(args, output=out, progress=False)
    assert resume_path(out).is_file()
    longer = MASACArgs(**{**args.__dict__, "total_steps": 9})
    res = train(longer, output=out, resume=True, progress=False)
    assert [row["step"] for row in res.curve][-1] == 9


def test_no_loader_unpickles_evals_or_execs_file_data():
    """grep-level: the source tree has no unsafe torch.load, pickle/marshal/shelve load, eval or exec."""
    bad = re.compile(r"weights_only\s*=\s*False|\bpickle\.loads?\(|\bmarshal\.loads?\(|\bshelve\.open\(|"
                     r"(?<![\w.])eval\(|(?<![\w.])exec\(|\bdill\.|\bcloudpickle\.loads?\(|\bjoblib\.load\(")
    hits = []
    for folder in ("uara", "solvers", "psd", "bench"):
        for f in sorted((ROOT / folder).rglob("*.py")):
            for n, line in enumerate(f.read_text().splitlines(), 1):
                if bad.search(line.split("#", 1)[0]):
                    hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)
    loads = [f"{f.relative_to(ROOT)}:{n}" for folder in ("uara", "solvers", "psd")
             for f in sorted((ROOT / folder).rglob("*.py"))
             for n, line in enumerate(f.read_text().splitlines(), 1)
             if "torch.load(" in line and "weights_only=True" not in line]
    assert not loads, loads
