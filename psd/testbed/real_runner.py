"""A real distributed speculative-decoding run: the draft in one process (the phone), the target in
another (the server), over a shaped local link (:mod:`uara.psd.testbed.shaped_link`), exchanging the real
payload of each protocol (:mod:`uara.psd.testbed.payloads`). Conventional SD and PSD with pre-/post-verify
run for real, with the block rules of :mod:`uara.psd.simulation.simulator` (one block in flight while the next
is drafted in PSD; a rejection or a contradicting bonus token ends the lineage: the phone stops
drafting at once, the server drops the blocks it has not verified, stale uplink frames are aborted).

Per prompt: setup (untimed, unshaped): both sides prefill the prompt but its last token, the server
computes the target's greedy answer (the lossless reference, cached per prompt). Then t = 0 and the
phone drafts; every draft token, send, receive, verification and verdict is timestamped
(``time.perf_counter``, one clock: both processes on one machine). Each process is pinned to its own
core (``os.sched_setaffinity``) with one torch thread.

    records = run_pair("path/to/draft", "smollm2", jobs, cores=(0, 1))
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.psd.measure.hf import load_weights
from uara.psd.testbed.payloads import down_payload, needs_draft_probs, needs_target_probs, softmax, up_payload
from uara.psd.simulation.protocols import Protocol
from uara.psd.testbed.shaped_link import (KIND_BLOCK, KIND_CONTROL, KIND_VERDICT, Frame, LinkStalled, Receiver,
                                          ShapedSender, recv_frame, tune)


@dataclass(frozen=True)
class LinkSetting:
    """One setting of a run: payload protocol, link rate (both directions), one-way delay, mode, g."""

    protocol: str = "ids"
    bandwidth_bps: float = 20e6
    one_way_delay_s: float = 0.005
    mode: str = "sd"
    draft_length: int = 4
    pre_verify: bool = True


@dataclass
class Job:
    """One prompt under one setting (``prompt_ids``: the token ids the models see)."""

    prompt_id: str
    prompt_ids: list[int]
    setting: LinkSetting
    max_new_tokens: int = 64
    eos: tuple[int, ...] = ()


def _pin(core: int | None, threads: int = 1) -> None:
    import torch

    if core is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {core})
        except OSError:
            pass
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------- the phone
class Phone:
    """The draft side of one prompt's run (module docstring)."""

    def __init__(self, model: Any, job: Job, sock: socket.socket, up: ShapedSender, vocab: int):
        from uara.psd.measure.hf import CachedLM

        self.job, self.sock, self.up, self.vocab = job, sock, up, vocab
        self.rx = Receiver(sock)
        self.proto = Protocol.parse(job.setting.protocol)
        self.dlm = CachedLM(model) if model is not None else None
        self.n0 = len(job.prompt_ids)
        self.toks = list(job.prompt_ids)
        self.p = self.a = self.n0
        self.blk, self.lineage = 1, 0
        self.inflight: deque = deque()
        self.done_at: float | None = None
        self.log: dict[str, list] = {"draft": [], "sent": [], "verdict": []}

    def prefill(self) -> None:
        if self.n0 >= 2:
            self.dlm.logits(self.toks[:-1], self.n0 - 2)

    def finished(self) -> bool:
        out = self.toks[self.n0:self.p]
        return len(out) >= self.job.max_new_tokens or bool(set(self.job.eos) & set(out))

    def run(self, t0: float) -> float:
        s = self.job.setting
        while not self.finished():
            can_draft = len(self.inflight) == 0 if s.mode == "sd" else len(self.inflight) <= 1
            if can_draft and self.a - self.n0 < self.job.max_new_tokens:
                self._draft_block()
            else:
                try:
                    self._on_verdict(self.rx.wait())
                except LinkStalled as err:
                    raise UaraError(f"real run {self.job.prompt_id}: {err}; the phone waits for the verdict of "
                                    f"{list(self.inflight)} (start, size, lineage) at lineage {self.lineage}") from err
        return (self.done_at or time.perf_counter()) - t0

    def _poll(self) -> None:
        while not self.finished():
            f = self.rx.poll()
            if f is None:
                return
            self._on_verdict(f)

    def _draft_block(self) -> None:
        from uara.psd.measure.profiling import block_size

        s = self.job.setting
        m = block_size(self.blk, s.draft_length, s.mode, s.pre_verify)
        lineage, start = self.lineage, self.a
        probs = []
        for _ in range(m):
            if s.mode == "psd":
                self._poll()
                if self.lineage != lineage or self.a != start or self.finished():
                    # the block's lineage ended while it was drafted, or (before its first token) the verdict of
                    # the block in flight accepted everything and appended its bonus token, so the next block
                    # starts after it: abandon this one (it would resend the bonus token as a draft)
                    return
            t1 = time.perf_counter()
            token, prob = self._next_token()
            self.toks.append(token)
            if prob is not None:
                probs.append(prob)
            self.log["draft"].append((t1, time.perf_counter()))
        ids = self.toks[start:start + m]
        payload = up_payload(self.proto, ids, np.stack(probs) if probs else None, self.vocab)
        self.up.send(Frame(KIND_BLOCK, lineage=lineage, a=start, m=m, payload=payload))
        self.log["sent"].append((time.perf_counter(), start, m, lineage, len(payload)))
        self.inflight.append((start, m, lineage))
        self.a, self.blk = start + m, self.blk + 1

    def _next_token(self) -> tuple[int, Any]:
        """One draft pass: the greedy next token and, where the protocol sends them, its probabilities."""
        row = self.dlm.logits(self.toks, len(self.toks) - 1)[-1]
        return int(row.argmax()), softmax(row[None, :])[0] if needs_draft_probs(self.proto) else None

    def _on_verdict(self, f: Frame) -> None:
        self.log["verdict"].append((f.received_s, f.a, f.m, f.k, f.lineage, f.due_s, f.idle))
        if f.lineage != self.lineage or not self.inflight:
            return
        self.inflight.popleft()
        b = f.a + f.m
        if f.k < f.m:
            self._reset(f.a + f.k, f.token)
        elif len(self.toks) > b:
            if self.toks[b] == f.token:
                self.p = b + 1
            else:
                self._reset(b, f.token)
        else:
            self.toks.append(f.token)
            self.p = self.a = b + 1
        if self.finished() and self.done_at is None:
            self.done_at = f.received_s

    def _reset(self, pos: int, token: int) -> None:
        del self.toks[pos:]
        self.toks.append(token)
        self.p = self.a = pos + 1
        self.lineage += 1
        self.blk = 1
        self.inflight.clear()
        self.up.cancel(self.lineage)

    def output(self) -> list[int]:
        from uara.psd.measure.profiling import cut_at_eos

        return cut_at_eos(self.toks[self.n0:self.p], self.job.max_new_tokens, set(self.job.eos))


# ---------------------------------------------------------------------------------------- the server
class Server:
    """The target side of one prompt's run."""

    def __init__(self, model: Any, job: Job, down: ShapedSender, vocab: int):
        from uara.psd.measure.hf import CachedLM

        self.proto = Protocol.parse(job.setting.protocol)
        self.tlm, self.down, self.vocab = (CachedLM(model) if model is not None else None), down, vocab
        self.known = list(job.prompt_ids)
        self.lineage = 0
        self.log: list[tuple] = []

    def prefill(self) -> None:
        if len(self.known) >= 2:
            self.tlm.logits(self.known[:-1], len(self.known) - 2)

    def _ids(self, f: Frame) -> list[int]:
        width = 2 if self.vocab <= 65536 else 4
        return list(np.frombuffer(f.payload[: width * f.m], dtype=np.uint16 if width == 2 else np.uint32).astype(int))

    def is_stale(self, f: Frame) -> bool:
        """A block of an ended lineage: the phone aborted it; the server drops it on arrival."""
        if f.kind != KIND_BLOCK:
            return False
        ids, n = self._ids(f), len(self.known)
        return f.lineage < self.lineage or f.a > n or self.known[f.a:] != ids[: n - f.a]

    def on_block(self, f: Frame) -> None:
        seq = self.prepare(f)
        if seq is None:
            return
        t1 = time.perf_counter()
        self.finish(f, seq, self.tlm.logits(seq, f.a - 1), t1)

    def prepare(self, f: Frame) -> list[int] | None:
        """The sequence to verify (known prefix + the block's ids), or None for a stale block (dropped).

        The phone's lineage number is the authority: it also starts a new lineage on its own when a bonus
        token contradicts a block it had begun to draft and abandoned unsent, which the server never sees.
        So the server adopts the lineage of every block it verifies, and after a verdict that ends a lineage
        it expects ``f.lineage + 1`` (the phone's next), not its own count plus one; otherwise the two counts
        drift apart by one and a block drafted after a rejected token is verified against the correction.
        """
        if self.is_stale(f):
            if f.lineage >= self.lineage:
                self.lineage = f.lineage + 1  # a bonus token contradicted this block's first draft
            self.log.append(("drop", f.received_s, f.a, f.m, f.lineage, f.due_s, f.idle))
            return None
        self.lineage = f.lineage
        return self.known[: f.a] + self._ids(f)

    def finish(self, f: Frame, seq: list[int], rows: Any, t1: float) -> None:
        """The verdict from the target's logits ``rows`` of positions a - 1 .. a + m - 1, sent down."""
        ids = seq[f.a:]
        t = rows.argmax(-1).tolist()
        k = 0
        while k < f.m and ids[k] == t[k]:
            k += 1
        probs = softmax(rows) if needs_target_probs(self.proto) else None
        token = t[k]
        self.known = seq[: f.a + k] + [token]
        if k < f.m:
            self.lineage = f.lineage + 1
        payload = down_payload(self.proto, k, token, probs, k < f.m, self.vocab)
        t2 = time.perf_counter()
        self.down.send(Frame(KIND_VERDICT, lineage=f.lineage, a=f.a, m=f.m, k=k, token=token, payload=payload))
        self.log.append(("verify", f.received_s, f.a, f.m, f.lineage, t1, t2, k, f.due_s, f.idle))


# ---------------------------------------------------------------------------------------- processes
def _control(sock: socket.socket, obj: Any) -> None:
    data = json.dumps(obj).encode()
    sock.sendall(Frame(KIND_CONTROL, payload=data).pack())


def _read_control(sock: socket.socket) -> Any:
    f = recv_frame(sock)
    if f.kind != KIND_CONTROL:
        raise UaraError(f"real run: expected a control frame, got kind {f.kind}")
    return json.loads(f.payload)


def server_main(target_spec: str, core: int | None, port_pipe: Any) -> None:
    """The server process: accept the phone, then serve prompt after prompt until told to stop."""
    from uara.psd.measure.profiling import greedy_reference

    _pin(core)
    model = load_weights(target_spec)
    vocab = int(model.config.vocab_size)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port_pipe.send(lsock.getsockname()[1])
    sock, _ = lsock.accept()
    tune(sock)
    refs: dict[str, list[int]] = {}
    while True:
        msg = _read_control(sock)
        if msg.get("stop"):
            break
        job = Job(msg["prompt_id"], msg["prompt_ids"], LinkSetting(**msg["setting"]), msg["max_new_tokens"],
                  tuple(msg["eos"]))
        key = f"{job.prompt_id}/{job.max_new_tokens}"
        if key not in refs:
            import torch

            with torch.no_grad():
                refs[key] = greedy_reference(model, job.prompt_ids, job.max_new_tokens, set(job.eos))
        down = ShapedSender(sock, job.setting.bandwidth_bps, job.setting.one_way_delay_s)
        srv = Server(model, job, down, vocab)
        srv.prefill()
        _control(sock, {"ready": True})
        _serve(sock, srv)
        _control(sock, {"log": srv.log, "reference": refs[key], "link": down.log})
    sock.close()


def _serve(sock: socket.socket, srv: Server) -> None:
    import torch

    rx = Receiver(sock, drop=srv.is_stale)
    with torch.no_grad():
        while True:
            f = rx.wait()
            if f.kind == KIND_CONTROL:
                return  # "done"
            srv.on_block(f)


def phone_main(draft_spec: str, core: int | None, port: int, jobs: list[dict], out_path: str) -> None:
    """The phone process: run every job, write one JSON record per line to ``out_path``."""
    import torch

    _pin(core)
    model = load_weights(draft_spec)
    vocab = int(model.config.vocab_size)
    sock = socket.create_connection(("127.0.0.1", port))
    tune(sock)
    with open(out_path, "w", encoding="utf-8") as fh:
        for raw in jobs:
            job = Job(raw["prompt_id"], raw["prompt_ids"], LinkSetting(**raw["setting"]), raw["max_new_tokens"],
                      tuple(raw["eos"]))
            _control(sock, {**raw})
            phone = Phone(model, job, sock, ShapedSender(sock, job.setting.bandwidth_bps, job.setting.one_way_delay_s),
                          vocab)
            with torch.no_grad():
                phone.prefill()
                _read_control(sock)  # ready
                t0 = time.perf_counter()
                latency = phone.run(t0)
            sock.sendall(Frame(KIND_CONTROL, payload=b'{"done": true}').pack())
            back = _drain_until_control(phone.rx)
            out = phone.output()
            fh.write(json.dumps({"prompt_id": job.prompt_id, "prompt_ids": job.prompt_ids, "setting": asdict(job.setting), "t0": t0,
                                 "latency_s": latency, "output": out, "reference": back["reference"],
                                 "lossless": out == back["reference"], "phone": phone.log, "server": back["log"],
                                 "uplink": phone.up.log, "downlink": back["link"],
                                 "max_new_tokens": job.max_new_tokens}) + "\n")
            fh.flush()
        _control(sock, {"stop": True})
    sock.close()


def _drain_until_control(rx: Receiver) -> Any:
    """Verdicts still on the way after the phone finished are read and dropped."""
    while rx.pending:
        f = rx.pending.popleft()
        if f.kind == KIND_CONTROL:
            return json.loads(f.payload)
    while True:
        f = recv_frame(rx.sock)
        if f.kind == KIND_CONTROL:
            return json.loads(f.payload)


def run_pair(draft_spec: str, target_spec: str, jobs: Sequence[Job], out_path: str,
             cores: tuple[int | None, int | None] = (0, 1), timeout_s: float = 3600.0) -> list[dict]:
    """Run ``jobs`` with the draft and the target in two processes; returns the records (also in ``out_path``)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=server_main, args=(str(target_spec), cores[1], child), daemon=True)
    server.start()
    if not parent.poll(300):
        server.terminate()
        raise UaraError("real run: the server process did not start (model load failed?)")
    port = parent.recv()
    raw = [{"prompt_id": j.prompt_id, "prompt_ids": [int(t) for t in j.prompt_ids], "setting": asdict(j.setting),
            "max_new_tokens": j.max_new_tokens, "eos": [int(e) for e in j.eos]} for j in jobs]
    phone = ctx.Process(target=phone_main, args=(str(draft_spec), cores[0], port, raw, str(out_path)), daemon=True)
    phone.start()
    phone.join(timeout_s)
    server.join(30)
    for proc in (phone, server):
        if proc.is_alive():
            proc.terminate()
    if phone.exitcode != 0:
        raise UaraError(f"real run: the phone process failed (exit code {phone.exitcode})")
    with open(out_path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]
