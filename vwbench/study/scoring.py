"""The study's scoring half: transfer fits between task models and every word scored in-domain and transferred,
keyed and stored as it comes; the pictures the leaderboard's grids show are kept from the same pass."""

from __future__ import annotations

import contextlib
import time

import torch

from vwbench import __version__
from vwbench.errors import VWBenchError
from vwbench.models.space import nearest_tokens
from vwbench.records import Score, Trial
from vwbench.spec import DatasetSpec, TaskSpec
from vwbench.study.options import method_label


class Scoring:
    """Mixed into Study: fits and scores."""

    def score_key(self, vkey: str, eval_task: TaskSpec, method: str, fit_key: str | None) -> str:
        from vwbench.fingerprint import packages

        screened = {"safety_checker": eval_task.safety_checker} if eval_task.safety else {}  # none when off
        return self.store.key(
            "score",
            vector=vkey,
            model=self.model_ids[eval_task.name],
            method=method,
            fit=fit_key,
            version=__version__,
            packages=packages(),
            **screened,
        )

    def fit_key(self, method, src: TaskSpec, tgt: TaskSpec) -> str:
        from vwbench.fingerprint import code, packages

        return self.store.key(
            "fit",
            method=self.method_ids[method_label(method)],
            source=self.learner_ids[src.name],
            target=self.learner_ids[tgt.name],
            version=__version__,
            code=code("transfer"),
            packages=packages(),
        )

    def fit(self, method, src: TaskSpec, tgt: TaskSpec):
        """The fitted map src -> tgt for a method (fitted once per run, its report stored); None if fit failed."""
        from vwbench.transfer.base import fit_with_report

        name, key = method_label(method), self.fit_key(method, src, tgt)
        if (name, src.name, tgt.name) not in self._fits:
            import copy

            fitted = copy.deepcopy(method)
            t = time.perf_counter()
            try:
                report = fit_with_report(fitted, self.vocabulary(src), self.vocabulary(tgt))
            except Exception as exc:  # noqa: BLE001 - a submitted method may raise anything; others go on
                self._fail(f"method {name!r} could not be fitted {src.label}->{tgt.label}: {exc}")
                fitted = None
            else:
                self.store.put_fit(key, report.as_dict(), self.run_id)
                self.summary.fits.append(report.as_dict())
            self.summary.stage_seconds["fit"] += time.perf_counter() - t
            self._fits[(name, src.name, tgt.name)] = fitted
        return self._fits[(name, src.name, tgt.name)]

    def score(self, words, eval_task: TaskSpec, data, method=None, label: str | None = None) -> None:
        """Score words [(trial, key, vector [n, d_src])] in `eval_task`, transferred by `method` unless in-domain;
        `label` names the scores (default: the method's name, or in_domain)."""
        name = label or ("in_domain" if method is None else method_label(method))
        fit_id = None
        if method is not None:
            src = self.suite.task(words[0][0].train_task)
            fit_id = self.fit_key(method, src, eval_task)
        todo = [(tr, self.score_key(k, eval_task, name, fit_id), v) for tr, k, v in words]
        todo = [w for w in todo if self.store.get_score(w[1]) is None]
        for tr, key, _ in todo:
            self._note_replaced("scores", (tr, eval_task.label, name), key)
        self.summary.reused["scores"] += len(words) - len(todo)
        if not todo:
            return
        if method is not None:  # fitted only when some score needs it
            new_fit = (method_label(method), src.name, eval_task.name) not in self._fits  # as fit() keys them
            if new_fit:
                self.bar.set_postfix_str(f"fit {name} {src.label}->{eval_task.label}", refresh=False)
            fitted = self.fit(method, src, eval_task)
            if new_fit:
                self.bar.update(1)
            if fitted is None:
                self.bar.update(len(todo))  # scores that cannot be computed are done too
                return
        self.bar.set_postfix_str(
            f"score {name} {words[0][0].train_task}->{eval_task.label} {words[0][0].dataset}", refresh=False
        )
        t = time.perf_counter()
        vectors = torch.stack([v for _, _, v in todo]).float()
        if method is not None:
            from vwbench.transfer.base import transfer

            k, n, d = vectors.shape
            try:
                vectors = transfer(fitted, vectors.reshape(k * n, d), self.vocabulary(eval_task).width).reshape(
                    k, n, -1
                )
            except VWBenchError as exc:
                self._fail(str(exc))
                self.bar.update(len(todo))
                return
        self._evaluate(todo, vectors, eval_task, data, name)
        self.summary.stage_seconds["evaluate"] += time.perf_counter() - t

    def _evaluate(self, todo, vectors: torch.Tensor, eval_task: TaskSpec, data, name: str) -> None:
        """Score and store each (trial, key) of `todo` with its vector [n, d_eval]. A score depends only on the
        evaluated model, the dataset, the concept and the vector (the placeholder token's own embedding is
        replaced), so a vector already scored in this run for the same concept is not evaluated again: the
        constant control and words that snap to their anchor cost one evaluation each."""
        import hashlib

        from vwbench import pictures as kept

        model = self.model(eval_task)
        space = self.vocabulary(eval_task)
        nearest = nearest_tokens(space, vectors[:, 0, :], k=3)[0].tolist() if len(vectors) else []
        memo_keys = [
            (
                eval_task.name,
                data.name,
                tr.concept,
                hashlib.blake2b(v.contiguous().numpy().tobytes(), digest_size=16).hexdigest(),
            )
            for (tr, _, _), v in zip(todo, vectors)
        ]
        first: dict[tuple, int] = {}
        for i, m in enumerate(memo_keys):
            if m not in self._memo:
                first.setdefault(m, i)
        unique = list(first.values())
        chunk = max(1, self.train_for(eval_task).concepts_per_batch)
        keep = [self._keeps(tr, name) for tr, _, _ in todo]
        want = {m for m, (tr, _, _) in zip(memo_keys, todo) if self._keeps(tr, None)}
        chunks = [unique[start : start + chunk] for start in range(0, len(unique), chunk)]
        tok = self.tokenizer(eval_task)
        batches = (
            (vectors[idx], [tok.single_token_id(todo[i][0].anchor) for i in idx], [todo[i][0].concept for i in idx])
            for idx in chunks
        )
        results_of = self.executor.evaluate(model, data, batches)
        local = self.executor.name == "local"  # pictures are kept where the model runs in this process
        for idx in chunks:
            flags = [memo_keys[i] in want for i in idx]
            with kept.capture(model, eval_task.task, flags) if local else contextlib.nullcontext() as cap:
                results = next(results_of)  # the local executor evaluates the batch here, inside the capture
            for n, (i, r) in enumerate(zip(idx, results)):
                self._memo[memo_keys[i]] = r
                if local and memo_keys[i] in want:
                    self._pictures[memo_keys[i]] = cap.pictures(n)
            self.bar.update(len(results))
        for i, (trial, key, _) in enumerate(todo):
            r = self._memo[memo_keys[i]]
            extra = {**r.get("extra", {}), "nearest_tokens": [space.tokens[j] for j in nearest[i]]}
            self.store.put_score(
                key, Score(trial, eval_task.label, name, model.metric_name, float(r["value"]), extra), self.run_id
            )
            if keep[i] and self._pictures.get(memo_keys[i]):
                kept.put(
                    self.store,
                    kept.word_rows(key, trial, eval_task.label, name, float(r["value"]), self._pictures[memo_keys[i]]),
                    self.run_id,
                )
            self.summary.computed["scores"] += 1
        self.summary.reused["evaluations"] += len(todo) - len(unique)
        self.bar.update(len(todo) - len(unique))

    def _keeps(self, trial: Trial, method: str | None) -> bool:
        """Whether the pictures this word's score is computed from are kept for the grids (pictures.py)."""
        from vwbench import pictures as kept

        ds = next(d for d in self.suite.datasets if d.name == trial.dataset)
        concept = next(c for c in ds.concepts if c.id == trial.concept)
        return kept.wanted(
            trial,
            method,
            ds.anchors_for(concept, self.suite.anchors)[0],
            self.seeds[0],
            [method_label(m) for m in self.control_methods],
        )

    def keep_training_images(self, ds: DatasetSpec, data) -> None:
        """A few training images of each selected concept, beside the kept generations (Fig 4's first columns)."""
        from vwbench import pictures as kept

        ds_key = self.store.key("train-images", dataset=self.depends["datasets"][ds.name])
        kept.put(
            self.store,
            kept.train_rows(self.store, self.name, data, [c.id for c in self.select.concept_specs(ds)], ds_key),
            self.run_id,
        )
