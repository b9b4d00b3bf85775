"""The study's learning half: which words a run learns, in chunks through the executor (in this process with the
out-of-memory back-off), and the untrained anchor words beside them."""

from __future__ import annotations

import dataclasses
import sys
import time

import torch
from tqdm.auto import tqdm

from vwbench.errors import VWBenchError
from vwbench.learn import learn
from vwbench.records import Trial
from vwbench.spec import DatasetSpec, TaskSpec, effective_train


class Learning:
    """Mixed into Study: learning words and anchor words."""

    def learn_vectors(
        self, ds: DatasetSpec, data, task: TaskSpec, ds_id: dict
    ) -> list[tuple[Trial, str, torch.Tensor]]:
        """Every trial's vector for one task model: from the store, the submission, or learned now."""
        out, todo = {}, []
        if self.submitted is not None:
            return [
                (
                    tr,
                    self.vector_key(tr, task, ds_id),
                    self.submitted[(tr.dataset, tr.concept, tr.anchor, tr.train_task, tr.delta)].float(),
                )
                for tr in self.trials(ds, task)
            ]
        for trial in self.trials(ds, task):
            key = self.vector_key(trial, task, ds_id)
            got = self.store.get_vector(key)
            if got is not None:
                out[key] = (trial, key, got[0].float().reshape(-1, got[0].shape[-1]))
                self.summary.reused["vectors"] += 1
            else:
                self._note_replaced("vectors", trial, key)
                todo.append((trial, key))
        if todo:
            model = self.model(task)
            t = time.perf_counter()
            keys = {trial: key for trial, key in todo}
            cfg = self.train_for(task)
            self.bar.set_postfix_str(f"learn {task.name} {ds.name}", refresh=False)
            for res, micro in self._learned(model, data, [tr for tr, _ in todo], cfg, task):
                key = keys[res.trial]
                meta = {
                    "model": task.model.id,
                    "revision": task.model.revision,
                    "task": task.name,
                    "concept": res.trial.concept,
                    "anchor": res.trial.anchor,
                    "delta": res.trial.delta,
                    "seed": res.trial.seed,
                    "steps": self.train.steps,
                    "loss_start": res.loss_start,
                    "loss_end": res.loss_end,
                    "nearest_token": res.nearest_token,
                    "anchor_distance": res.anchor_distance,
                    "d_nn": res.extra["d_nn"],
                    "provenance": self.provenance(task),
                    "execution": {
                        "concepts_per_batch": res.extra.get("chunk_size"),
                        "micro_batch": micro,
                        "gradient_checkpointing": cfg.gradient_checkpointing,
                    },
                }
                self.store.put_vector(key, res.trial, res.vector, meta, self.run_id)
                out[key] = (res.trial, key, res.vector)
                self.summary.computed["vectors"] += 1
            self.summary.stage_seconds["learn"] += time.perf_counter() - t
        return [out[self.vector_key(tr, task, ds_id)] for tr in self.trials(ds, task)]

    def train_for(self, task: TaskSpec):
        """The run's train config with the task's `train:` block (K, micro-batch, checkpointing) over it."""
        return effective_train(self.suite, task, self.train)

    def _learned(self, model, data, trials: list[Trial], cfg, task: TaskSpec):
        """(LearnResult, micro-batch used) of every trial, chunk by chunk. In this process each chunk backs off on
        out-of-memory (`learn_chunk`); another executor learns its chunks where it runs them, at `cfg`'s
        micro-batch."""
        if self.executor.name != "local":
            for res in self.executor.learn(model, data, trials, cfg, progress=self.bar.update):
                yield res, cfg.micro_batch
            return
        d_cache: dict = {}
        k = max(1, cfg.concepts_per_batch)
        for i in range(0, len(trials), k):
            results, micro = self.learn_chunk(model, data, trials[i : i + k], cfg, task, d_cache)
            for res in results:
                yield res, micro

    def learn_chunk(self, model, data, chunk: list[Trial], cfg, task: TaskSpec, d_cache: dict):
        """Learn one chunk of words: (results, micro-batch used). On CUDA out-of-memory the chunk is retried
        with half the micro-batch (recorded in the run's meta as `oom_backoff` and logged); at 1 it gives up."""
        from vwbench.oom import is_oom, release

        micro = cfg.micro_batch
        rows = len(chunk) * model.rows_per_trial(cfg.batch_size)
        while True:
            steps = [0]

            def hook(v, step, steps=steps):
                steps[0] += 1
                self.bar.update(v.shape[0])

            try:
                run_cfg = dataclasses.replace(cfg, micro_batch=micro)
                return list(learn(model, data, chunk, run_cfg, progress=False, step_hook=hook, d_cache=d_cache)), micro
            except Exception as exc:  # only out-of-memory is retried
                if not is_oom(exc):
                    raise
            release()  # outside the except block, whose traceback pins the failed step's tensors
            current = min(micro or rows, rows)
            if current <= 1:
                raise VWBenchError(
                    f"out of GPU memory learning {task.name} on {chunk[0].dataset} even at micro-batch "
                    f"1 ({len(chunk)} words); free the GPU or use a larger one"
                )
            micro = current // 2
            self.bar.total += steps[0] * len(chunk)  # the failed attempt's steps are done again
            note = {"task": task.name, "dataset": chunk[0].dataset, "words": len(chunk), "from": current, "to": micro}
            self.summary.backoffs.append(note)
            self.store.update_run(self.run_id, {"oom_backoff": self.summary.backoffs})
            tqdm.write(
                f"vwbench: out of GPU memory learning {task.name} on {note['dataset']} ({len(chunk)} words, "
                f"micro-batch {current}): retrying the chunk at micro-batch {micro}",
                file=sys.stderr,
            )

    def anchor_words(self, ds: DatasetSpec, task: TaskSpec) -> list[tuple[Trial, str, torch.Tensor]]:
        """The `anchor` control of each of `_anchor_trials`: the anchor's own, untrained embedding."""
        trials = self._anchor_trials(ds, task)
        if not trials:
            return []
        table = self.vocabulary(task).table
        tok = self.tokenizer(task)
        return [
            (
                tr,
                self.anchor_key(tr, task),
                table[tok.single_token_id(tr.anchor)].float().repeat(self.train.num_vectors, 1),
            )
            for tr in trials
        ]

    def _anchor_trials(self, ds: DatasetSpec, task: TaskSpec) -> list[Trial]:
        """The trials the anchor control scores: the unconstrained ones (δ trials too when learning only)."""
        return [tr for tr in self.trials(ds, task) if tr.delta is None or self.opt.learn_only]

    def anchor_key(self, trial: Trial, task: TaskSpec) -> str:
        return self.store.key(
            "anchor",
            trial=dataclasses.asdict(trial),
            model=self.learner_ids[task.name],
            num_vectors=self.train.num_vectors,
        )
