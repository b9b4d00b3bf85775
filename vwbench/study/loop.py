"""The study loop behind `vwbench run` and `vwbench probe`: learn (or reuse) every trial's word, fit the transfer
maps between every ordered pair of task models, and score every word in-domain and transferred.

It knows only the TaskModel and TransferMethod interfaces. Every vector, fit and score is keyed by what it
depends on and kept in the store as soon as it exists, so a killed run resumes where it stopped.
Where the models run is an executor's business (vwbench.executors: in this process, or Ray actors); the study
stays the only writer of the store.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import defaultdict

from tqdm.auto import tqdm

from vwbench import __version__
from vwbench.errors import SpecError, VWBenchError
from vwbench.executors import Job
from vwbench.keys import dataset_id, learner_id, model_id
from vwbench.metrics import check_task
from vwbench.records import Trial
from vwbench.shard import check_shard, shard_of
from vwbench.spec import DatasetSpec, SuiteSpec, TaskSpec, learning_settings
from vwbench.study.learning import Learning
from vwbench.study.options import (
    StudyOptions,
    StudySummary,
    changes,
    describe_change,
    method_id,
    method_label,
    resolve_overrides,
    variant_name,
)
from vwbench.study.scoring import Scoring


class Study(Learning, Scoring):
    """One suite run against one store."""

    def __init__(self, suite: SuiteSpec, store, options: StudyOptions):
        from vwbench import hub
        from vwbench.executors import LocalExecutor

        suite, self.lock = hub.prepare(suite, options.lock, options.allow_unpinned, options.safety_checker)
        self.suite, self.store, self.opt = suite, store, options
        self.executor = options.executor or LocalExecutor()
        self.device = self.executor.resolve_device(options.device)
        # a run that overrides training settings is its own variant: "<suite>@steps=5", never mixed into the suite
        self.overrides = resolve_overrides(suite, options)
        self.train = dataclasses.replace(suite.train, **self.overrides)
        deltas = suite.deltas if options.deltas is None else options.deltas
        self.deltas: list[float | None] = ([None] if options.unconstrained else []) + list(deltas)
        self.methods = [self._method(m) for m in options.methods]
        controls = ("anchor",) if options.learn_only else suite.controls if options.controls else ()
        self.control_methods, self.anchor_control = self._controls(controls)
        self.select = self._selection(options.select)
        self.tasks = self.select.task_specs(suite)  # the task models words are learned and scored in
        self.seeds = self._seeds(options.seeds)
        self.shard = check_shard(options.shard)
        self.method_ids = {method_label(m): method_id(m, src) for m, src in zip(self.methods, options.methods)}
        self.method_ids.update({method_label(m): method_id(m) for m in self.control_methods})
        for t in suite.tasks:  # the metrics each task names, before any work
            check_task(t)
        self.model_ids = {t.name: model_id(t, self.device.type) for t in suite.tasks}  # scores
        self.learner_ids = {t.name: learner_id(t, self.device.type) for t in suite.tasks}  # vectors, anchors, fits
        self._models: dict[str, object] = {}
        self._spaces: dict[str, object] = {}
        self._memo: dict[tuple, dict] = {}
        self._pictures: dict[tuple, list] = {}  # memo key -> kept pictures (pictures.py)
        self._fits: dict[tuple, object] = {}
        self.summary: StudySummary | None = None
        self.bar = tqdm(disable=True)  # the run's one progress bar (see run)
        self.submitted = self._submitted(options.embeddings) if options.embeddings else None
        # scores of a submission's vectors are kept apart from the suite's own: "<suite>+<submission>"
        base = suite.name if self.submitted is None else f"{suite.name}+{self.submission_name}"
        self.name = variant_name(base, self.overrides)

    # ---- pieces ---------------------------------------------------------------------------------------

    def _method(self, m):
        from vwbench.method_spec import load

        return load(m)  # a name, `name:key=value,...`, a submission folder, or an instance as is

    def _selection(self, select):
        from vwbench.selection import Selection

        select = Selection() if select is None else select
        if not isinstance(select, Selection):
            raise VWBenchError(
                f"StudyOptions.select must be a vwbench.selection.Selection, got {type(select).__name__}"
            )
        select.check(self.suite)
        return select

    def _seeds(self, seeds) -> tuple[int, ...]:
        if seeds is None or len(seeds) == 0:
            return (self.train.seed,)
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int):
                raise VWBenchError(f"seeds must be integers, got {s!r}")
        return tuple(dict.fromkeys(seeds))

    def _controls(self, names) -> tuple[list, bool]:
        """The control transfer methods not already among the methods, and whether the anchor control runs."""
        from vwbench.transfer import registry

        taken = {method_label(m) for m in self.methods}
        return [registry.get(n) for n in names if n != "anchor" and n not in taken], "anchor" in names

    def _submitted(self, path) -> dict:
        """{(dataset, concept, anchor, task name, delta): vector} of an embeddings submission, checked."""
        from vwbench.submissions import Submission, check_suite, load_embeddings, read_manifest

        sub = path if isinstance(path, Submission) else read_manifest(path)
        self.submission_name = sub.name
        vectors = sub.vectors or load_embeddings(sub)
        check_suite(sub, self.suite, vectors)  # a task or dataset the suite lacks: one line, not a KeyError
        out = {}
        for v in vectors:
            task = self.suite.task(v.task)
            out[(v.dataset, v.concept, v.anchor, task.label, v.delta)] = v.vector
        return out

    def model(self, task: TaskSpec):
        if task.name not in self._models:
            t = time.perf_counter()
            self._models[task.name] = self.executor.build_model(task, self.device)
            from vwbench.hub import verify_task

            checked = verify_task(task, self.lock)  # cached weights against the lock, before any use
            if checked and hasattr(self._models[task.name], "loaded"):
                self._models[task.name].loaded.provenance["lock"] = checked
            self.summary.stage_seconds["load_models"] += time.perf_counter() - t
            self._check_anchor_words(task)
            self.store.update_run(self.run_id, {"provenance": {task.name: self.provenance(task)}})
        return self._models[task.name]

    def _check_anchor_words(self, task: TaskSpec) -> None:
        """A suite's literal anchor words must be single tokens the task model has trained rows for."""
        policy = self.suite.anchors if isinstance(self.suite.anchors, tuple) else ()
        words = [w for w in policy if isinstance(w, str) and w not in ("own", "all")]
        usable = self.vocabulary(task).usable if words else None  # untrained rows are not usable
        for w in words:
            try:
                i = self.tokenizer(task).single_token_id(w)
            except ValueError as exc:
                raise SpecError(self.suite.path, "anchors", str(exc)) from None
            if not bool(usable[i]):
                raise SpecError(
                    self.suite.path,
                    "anchors",
                    f"anchor {w!r} is not a trained word of {task.name} "
                    f"({task.model.id}): it would start from a random row",
                )

    def tokenizer(self, task: TaskSpec):
        """The tokenizer of a task's model family (anchors are its token ids)."""
        from vwbench.models.families import family

        return family(task.family).tokenizer()

    def provenance(self, task: TaskSpec) -> dict:
        """Where a loaded task model came from (resolved revision, dtype, device, weights' hashes where known)."""
        return dict(getattr(self._models[task.name].loaded, "provenance", {}) or {})

    def trials(self, ds: DatasetSpec, task: TaskSpec) -> list[Trial]:
        concepts = self.select.concept_specs(ds)
        if self.submitted is not None:
            ids = {c.id for c in concepts}
            return shard_of(
                [
                    Trial(self.name, d, c, a, t, delta, self.train.seed)
                    for (d, c, a, t, delta) in self.submitted
                    if d == ds.name and t == task.label and c in ids
                ],
                self.shard,
            )
        trials = [
            Trial(self.name, ds.name, c.id, a, task.label, d, seed)
            for seed in self.seeds
            for d in self.deltas
            for c in concepts
            for a in ds.anchors_for(c, self.suite.anchors)
        ]
        return shard_of(trials, self.shard)

    # Keys hold everything a record depends on (settings, code, data, library versions; see vwbench.fingerprint),
    # so a change to any of them recomputes the record instead of reusing a stale one.

    def vector_key(self, trial: Trial, task: TaskSpec, ds_id: dict) -> str:
        from vwbench.fingerprint import code, packages, tensor_digest

        if self.submitted is not None:
            v = self.submitted[(trial.dataset, trial.concept, trial.anchor, trial.train_task, trial.delta)]
            return self.store.key(
                "submitted",
                trial=dataclasses.asdict(trial),
                vector=tensor_digest(v),
                shape=list(v.shape),
                model=self.learner_ids[task.name],
                dataset=ds_id,
            )
        return self.store.key(
            "vector",
            trial=dataclasses.asdict(trial),
            model=self.learner_ids[task.name],
            dataset=ds_id,
            train=learning_settings(self.train),
            version=__version__,
            code=code("learn"),
            packages=packages(),
        )

    def vocabulary(self, task: TaskSpec):
        if task.name not in self._spaces:
            self._spaces[task.name] = self.model(task).vocabulary()
        return self._spaces[task.name]

    def _fail(self, message: str) -> None:
        self.summary.failures.append(message)
        tqdm.write(f"vwbench: {message}", file=sys.stderr)

    # ---- the loop -------------------------------------------------------------------------------------

    def eval_tasks(self, train_task: TaskSpec) -> list[TaskSpec]:
        """The task models a word learned in `train_task` is scored in (only its own when learning only)."""
        return [train_task] if self.opt.learn_only else self.tasks

    def work(self, datasets: list[tuple[DatasetSpec, str | None]]) -> int:
        """Units of work left in this run, given what the store holds: `steps` per word to learn (the bar moves
        with every training step), one per transfer fit and one per score to compute (controls included)."""
        left = self.counts(datasets)
        return left["words"] * self.train.steps + left["fits"] + left["scores"]

    def counts(self, datasets: list[tuple[DatasetSpec, str | None]], by_task: bool = False) -> dict:
        """{words, fits, scores} this run has left to compute given what the store holds (`vwbench plan` asks an
        empty store); with `by_task`, also {task name: {words, fits, scores, evaluations}}: words, fits and scores
        by the task that learns the word, evaluations (the same scores) by the task model that computes them."""
        per: dict = defaultdict(lambda: {"words": 0, "fits": 0, "scores": 0, "evaluations": 0})
        words, scores, fits = 0, 0, set()
        for ds, manifest in datasets:
            ds_id = self.depends["datasets"][ds.name]
            for task in self.tasks:
                keys = [self.vector_key(tr, task, ds_id) for tr in self.trials(ds, task)]
                anchors = [self.anchor_key(tr, task) for tr in self._anchor_trials(ds, task)]
                anchors = anchors if self.anchor_control else []
                if self.submitted is None:
                    learn = sum(not self.store.has_vector(k) for k in keys)
                    words += learn
                    per[task.name]["words"] += learn
                for ev in self.eval_tasks(task):
                    if ev.name == task.name:
                        jobs = [(None, "in_domain", keys), (None, "anchor", anchors)]
                    else:
                        jobs = [(m, method_label(m), keys) for m in self.methods + self.control_methods] + [
                            (m, f"anchor+{method_label(m)}", anchors) for m in self.methods
                        ]
                    for method, name, ks in jobs:
                        fit_id = None if method is None else self.fit_key(method, task, ev)
                        missing = sum(self.store.get_score(self.score_key(k, ev, name, fit_id)) is None for k in ks)
                        scores += missing
                        per[task.name]["scores"] += missing  # by the task that learned the word
                        per[ev.name]["evaluations"] += missing  # by the task model that scores it
                        if missing and method is not None:
                            fits.add((method_label(method), task.name, ev.name))
        for _, src, _ in fits:
            per[src]["fits"] += 1
        out = {"words": words, "fits": len(fits), "scores": scores}
        return {**out, "by_task": dict(per)} if by_task else out

    # ---- records of older code or settings ------------------------------------------------------------

    def _note_replaced(self, kind: str, identity, key: str) -> None:
        """Count a record about to be computed whose trial (and evaluation) the store holds under other keys."""
        others = {k: r for k, r in self._stored[kind].get(identity, {}).items() if k != key}
        if others:
            self.summary.replaced[kind] += 1
            self._replaced_runs.update(others.values())

    def _explain_replaced(self) -> list[str]:
        """What differs between this run's dependencies and those of the runs whose records it replaced."""
        metas = {r["run_id"]: r["meta"] for r in self.store.runs()}
        out: list[str] = []
        for run_id in sorted(self._replaced_runs, key=str):
            old = metas.get(run_id, {}).get("depends")
            found = (
                ["stored before keys held code fingerprints"]
                if old is None
                else [describe_change(c) for c in changes(old, self.depends)]
            )
            out += [c for c in found if c not in out]
        return out or ["settings outside the recorded dependencies"]

    def dependencies(self, manifests: dict) -> dict:
        """Everything this run's keys depend on, recorded with the run so a later run can say what changed."""
        import json

        from vwbench.fingerprint import code, packages
        from vwbench.store import canonical_json

        deps = {
            "version": __version__,
            "models": self.model_ids,
            "methods": self.method_ids,
            "datasets": {ds.name: dataset_id(ds, manifests[ds.name]) for ds in self.suite.datasets},
            "train": dataclasses.asdict(self.train),
            "code": {"learn": code("learn"), "transfer": code("transfer")},
            "packages": packages(),
        }
        return json.loads(canonical_json(deps))  # as the store keeps it (tuples as lists), to compare

    def _job(self, job: Job) -> None:
        """Learn the words of one (dataset, task model) and score them in-domain and in every other task model."""
        ds, data, train_task = job.dataset, job.data, job.task
        words = self.learn_vectors(ds, data, train_task, self.depends["datasets"][ds.name])
        if not words:
            return
        anchors = self.anchor_words(ds, train_task) if self.anchor_control else []
        for eval_task in self.eval_tasks(train_task):
            if eval_task.name == train_task.name:
                self.score(words, eval_task, data)
                if anchors:
                    self.score(anchors, eval_task, data, label="anchor")
                continue
            for method in self.methods:
                self.score(words, eval_task, data, method)
                if anchors:
                    self.score(anchors, eval_task, data, method, label=f"anchor+{method_label(method)}")
            for method in self.control_methods:
                self.score(words, eval_task, data, method)

    def run(self) -> StudySummary:
        from vwbench.data.manifest import load_dataset
        from vwbench.method_spec import describe

        self.summary = StudySummary(run_id="")
        manifests = {ds.name: self.opt.data.get(ds.name) or self.suite.data.get(ds.name) for ds in self.suite.datasets}
        self.depends = self.dependencies(manifests)
        meta = {
            "suite": self.name,
            "variant_of": self.suite.name if self.overrides else None,
            "overrides": self.overrides,
            "device": str(self.device),
            "deltas": self.deltas,
            "methods": [method_label(m) for m in self.methods],
            "controls": [method_label(m) for m in self.control_methods] + ["anchor"] * self.anchor_control,
            "train": dataclasses.asdict(self.train),
            "models": self.model_ids,
            "manifests": manifests,
            "depends": self.depends,
            "argv": sys.argv,
        }
        meta.update(
            filters=self.select.as_dict() or None,
            seeds=list(self.seeds),
            shard=f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
            method_info=[describe(m) for m in self.methods],
        )
        if self.lock or self.opt.allow_unpinned or self.opt.safety_checker:
            from vwbench.hub import unpinned

            meta.update(
                lock=(self.lock or {}).get("path"),
                unpinned=unpinned(self.suite, self.lock),
                safety_checker=self.opt.safety_checker,
            )
        self._stored, self._replaced_runs = self.store.records(self.name), set()
        self.run_id = self.summary.run_id = self.store.begin_run(meta)
        status = "failed"
        datasets = [
            (ds, self.opt.data.get(ds.name) or self.suite.data.get(ds.name))
            for ds in self.select.dataset_specs(self.suite)
        ]
        self.bar = tqdm(
            total=self.work(datasets) if self.opt.progress else 0,
            disable=not self.opt.progress,
            desc=f"vwbench {self.name}",
            unit="step",
            dynamic_ncols=True,
        )
        try:
            jobs = []
            for ds, manifest in datasets:
                t = time.perf_counter()
                data = load_dataset(ds, manifest)
                self.summary.stage_seconds["data"] += time.perf_counter() - t
                self.keep_training_images(ds, data)
                jobs += [Job(ds, data, train_task) for train_task in self.tasks]
            self.executor.map(self._job, jobs)
            status = "ok" if not self.summary.failures else "partial"
        finally:
            self.bar.close()
            if self.summary.replaced:
                self.summary.changes = self._explain_replaced()
            self.store.end_run(self.run_id, dict(self.summary.stage_seconds), status)
        return self.summary
