"""Real concurrent runs: N clients share one target server that batches their verification requests.

The server process (one core, one torch thread) holds the target and one KV cache per client
(:class:`~uara.psd.testbed.batched_target.BatchedTarget`). While any client's block has come due (the
shaped link of :mod:`uara.psd.testbed.shaped_link` releases a frame at its due time) it runs a pass:
the first due, non-stale block of every client, in one forward (continuous batching; a block that
comes due during a pass joins the next), then each verdict goes down that client's shaped link. A
client's second block waits for its first to be verified (one request per client per pass).

The clients (one process, one thread each, on the other core) are **trace-driven**: on 2 cores N draft
models cannot run at once, so each client replays its draft's recorded token stream -- the draft's
greedy proposal at every position of the target's greedy output (``Trace.proposals``, teacher
forced) -- and its recorded per-token draft times (sleeping them), as serving benchmarks drive a
server with recorded requests. Everything else is the real :class:`~uara.psd.testbed.real_runner.Phone`:
the PSD block rules, look-ahead, lineage resets, aborted uplink frames and the real payload of each
protocol. Proposals replayed on the correct prefix are exactly what the draft would send; after a
mismatch the rest of the block is rejected whatever it holds, so outputs stay lossless (checked: each
client's output equals the target's unbatched greedy output).

    records = run_concurrent("smollm2", traces, runs, "runs.jsonl")
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.psd.measure.hf import load_weights
from uara.psd.testbed.payloads import needs_draft_probs
from uara.psd.testbed.real_runner import (Job, LinkSetting, Phone, Server, _control, _drain_until_control, _pin,
                                          _read_control)
from uara.psd.testbed.shaped_link import KIND_BLOCK, KIND_CONTROL, Frame, ShapedSender, recv_frame, tune


@dataclass(frozen=True)
class Trace:
    """One prompt's recorded draft: the target's greedy output ``reference``, the draft's greedy proposal
    at each of its positions given the reference prefix (``proposals``) and the time of each of those
    draft passes (``step_s``, s)."""

    prompt_id: str
    prompt_ids: list[int]
    reference: list[int]
    proposals: list[int]
    step_s: list[float]


def record_trace(draft: Any, target: Any, prompt_id: str, prompt_ids: list[int], max_new: int, eos: set[int]) -> Trace:
    """Greedy reference of the target, then one timed, cached pass of the draft per position over it."""
    from uara.psd.measure.hf import CachedLM
    from uara.psd.measure.profiling import greedy_reference

    ref = greedy_reference(target, prompt_ids, max_new, eos)
    lm = CachedLM(draft)
    seq = list(prompt_ids)
    if len(seq) >= 2:
        lm.logits(seq[:-1], len(seq) - 2)
    proposals, steps = [], []
    for tok in ref:
        t1 = time.perf_counter()
        proposals.append(int(lm.logits(seq, len(seq) - 1)[-1].argmax()))
        steps.append(time.perf_counter() - t1)
        seq.append(tok)
    return Trace(prompt_id, list(prompt_ids), ref, proposals, steps)


class ReplayPhone(Phone):
    """A :class:`Phone` whose draft passes replay a :class:`Trace` (module docstring)."""

    def __init__(self, trace: Trace, job: Job, sock: socket.socket, up: ShapedSender, vocab: int):
        super().__init__(None, job, sock, up, vocab)
        self.trace = trace

    def prefill(self) -> None:
        pass

    def _next_token(self) -> tuple[int, Any]:
        p = len(self.toks) - self.n0
        tr = self.trace
        k = min(p, len(tr.proposals) - 1)
        time.sleep(tr.step_s[k])
        token = tr.proposals[k] if p < len(tr.proposals) else tr.reference[-1]
        prob = None
        if needs_draft_probs(self.proto):
            prob = np.zeros(self.vocab, dtype=np.float32)
            prob[token] = 1.0
        return token, prob


# ---------------------------------------------------------------------------------------- the server
def _serve_batched(socks: list[socket.socket], servers: list[Server], target: Any) -> list[tuple]:
    """Run passes until every client says done (module docstring); returns the pass log
    (start, end, requests, verified positions, context tokens, clients)."""
    import torch

    pending: list[deque] = [deque() for _ in socks]
    done = [False] * len(socks)
    passes: list[tuple] = []
    with torch.no_grad():
        while not all(done):
            _read_all(socks, pending, block_s=0.0)
            now = time.perf_counter()
            batch = []
            for i, (q, srv) in enumerate(zip(pending, servers)):
                while q and q[0].kind == KIND_CONTROL:
                    q.popleft()
                    done[i] = True
                while q and q[0].kind == KIND_BLOCK and q[0].due_s <= now:
                    f = q.popleft()
                    f.received_s = max(now, f.due_s)
                    seq = srv.prepare(f)
                    if seq is not None:
                        batch.append((i, f, seq))
                        break
            if not batch:
                due = [q[0].due_s for q in pending if q and q[0].kind == KIND_BLOCK]
                wait = max(0.0, min(due) - time.perf_counter()) if due else None
                _read_all(socks, pending, block_s=wait if wait is not None else 0.05)
                continue
            t1 = time.perf_counter()
            rows = target.logits([(i, seq, f.a - 1) for i, f, seq in batch])
            for (i, f, seq), r in zip(batch, rows):
                servers[i].finish(f, seq, r, t1)
            passes.append((t1, time.perf_counter(), len(batch), sum(f.m + 1 for _, f, _ in batch),
                           sum(len(seq) for _, _, seq in batch), [i for i, _, _ in batch]))
    return passes


def _read_all(socks: list[socket.socket], pending: list[deque], block_s: float) -> None:
    """Every whole frame now in the sockets (waiting up to ``block_s`` for the first)."""
    timeout = block_s
    while True:
        ready = select.select(socks, [], [], timeout)[0]
        if not ready:
            return
        for s in ready:
            pending[socks.index(s)].append(recv_frame(s))
        timeout = 0.0


def concurrent_server_main(target_spec: str, core: int | None, port_pipe: Any, max_clients: int) -> None:
    """The server process: accept ``max_clients`` connections, then serve run after run until told to stop."""
    from uara.psd.testbed.batched_target import BatchedTarget

    _pin(core)
    model = load_weights(target_spec)
    vocab = int(model.config.vocab_size)
    target = BatchedTarget(model)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(max_clients)
    port_pipe.send(lsock.getsockname()[1])
    socks = []
    for _ in range(max_clients):
        s, _ = lsock.accept()
        tune(s)
        socks.append(s)
    while True:
        msg = _read_control(socks[0])
        if msg.get("stop"):
            break
        jobs = [Job(j["prompt_id"], j["prompt_ids"], LinkSetting(**j["setting"]), j["max_new_tokens"], tuple(j["eos"]))
                for j in msg["jobs"]]
        active = socks[:len(jobs)]
        servers = []
        for i, (job, s) in enumerate(zip(jobs, active)):
            srv = Server(None, job, ShapedSender(s, job.setting.bandwidth_bps, job.setting.one_way_delay_s), vocab)
            target.reset(i)
            if len(job.prompt_ids) >= 2:
                import torch

                with torch.no_grad():
                    target.logits([(i, job.prompt_ids[:-1], len(job.prompt_ids) - 2)])
            servers.append(srv)
        _control(socks[0], {"ready": True})
        passes = _serve_batched(active, servers, target)
        for srv, s in zip(servers, active):
            _control(s, {"log": srv.log, "link": srv.down.log, "passes": passes})
    for s in socks:
        s.close()


# ---------------------------------------------------------------------------------------- the clients
def _client(trace: Trace, job: Job, sock: socket.socket, vocab: int, t0: float, out: dict) -> None:
    phone = ReplayPhone(trace, job, sock, ShapedSender(sock, job.setting.bandwidth_bps, job.setting.one_way_delay_s),
                        vocab)
    delay = t0 - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    latency = phone.run(t0)
    sock.sendall(Frame(KIND_CONTROL, payload=b'{"done": true}').pack())
    back = _drain_until_control(phone.rx)
    output = phone.output()
    ref = trace.reference[:job.max_new_tokens]
    out.update(prompt_id=job.prompt_id, prompt_ids=job.prompt_ids, setting=asdict(job.setting), t0=t0,
               latency_s=latency, output=output, reference=ref, lossless=output == ref, phone=phone.log,
               server=back["log"], uplink=phone.up.log, downlink=back["link"], passes=back["passes"],
               max_new_tokens=job.max_new_tokens)


def clients_main(core: int | None, port: int, max_clients: int, traces: dict[str, dict], runs: list[dict],
                 vocab: int, out_path: str) -> None:
    """The client process: for each run, N threads replay their traces at once; one JSON line per client."""
    _pin(core)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(max_clients)]
    for s in socks:
        tune(s)
    with open(out_path, "w", encoding="utf-8") as fh:
        for run in runs:
            jobs = [Job(j["prompt_id"], j["prompt_ids"], LinkSetting(**j["setting"]), j["max_new_tokens"],
                        tuple(j["eos"])) for j in run["jobs"]]
            _control(socks[0], {"jobs": run["jobs"]})
            _read_control(socks[0])  # ready: every client's prompt is prefilled
            t0 = time.perf_counter() + 0.05
            outs: list[dict] = [{} for _ in jobs]
            threads = [threading.Thread(target=_client, args=(Trace(**traces[j.prompt_id]), j, socks[i], vocab, t0,
                                                              outs[i])) for i, j in enumerate(jobs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for i, rec in enumerate(outs):
                fh.write(json.dumps({**rec, "run": run["run"], "clients": len(jobs), "client": i,
                                     "split": run.get("split", "")}) + "\n")
            fh.flush()
        _control(socks[0], {"stop": True})
    for s in socks:
        s.close()


def run_concurrent(target_spec: str, traces: Sequence[Trace], runs: Sequence[dict], out_path: str, *, vocab: int,
                   cores: tuple[int | None, int | None] = (0, 1), timeout_s: float = 7200.0) -> list[dict]:
    """Run ``runs`` (each ``{"run": id, "jobs": [Job as dict, ...]}``) against one batching server; returns the
    per-client records (also in ``out_path``)."""
    import multiprocessing as mp

    n_max = max(len(r["jobs"]) for r in runs)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=concurrent_server_main, args=(str(target_spec), cores[1], child, n_max), daemon=True)
    server.start()
    if not parent.poll(300):
        server.terminate()
        raise UaraError("concurrent run: the server process did not start (model load failed?)")
    port = parent.recv()
    tr = {t.prompt_id: asdict(t) for t in traces}
    clients = ctx.Process(target=clients_main, args=(cores[0], port, n_max, tr, list(runs), vocab, str(out_path)),
                          daemon=True)
    clients.start()
    clients.join(timeout_s)
    server.join(30)
    for proc in (clients, server):
        if proc.is_alive():
            proc.terminate()
    if clients.exitcode != 0:
        raise UaraError(f"concurrent run: the client process failed (exit code {clients.exitcode})")
    with open(out_path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]
