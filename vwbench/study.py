"""The study loop behind `vwbench run` and `vwbench probe`: learn (or reuse) every trial's word, fit the transfer
maps between every ordered pair of task models, and score every word in-domain and transferred.

It knows only the TaskModel and TransferMethod interfaces. Every vector, fit and score is keyed by what it
depends on and kept in the store as soon as it exists, so a killed run resumes where it stopped.
Where the models run is an executor's business (vwbench.executors: in this process, or Ray actors); the study
stays the only writer of the store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from vwbench import __version__
from vwbench.errors import SpecError, VWBenchError
from vwbench.executors import Job
from vwbench.keys import dataset_id, model_id
from vwbench.learn import learn
from vwbench.metrics import check_task
from vwbench.models.space import nearest_tokens
from vwbench.records import Score, Trial
from vwbench.shard import check_shard, shard_of
from vwbench.spec import DatasetSpec, SuiteSpec, TaskSpec, effective_train, learning_settings


@dataclass
class StudyOptions:
    methods: list = field(default_factory=lambda: ["linear_transfer"])  # names, submission paths or instances
    unconstrained: bool = True
    deltas: tuple[float, ...] | None = None  # None: the suite's deltas
    device: str = "cpu"
    data: dict = field(default_factory=dict)  # dataset name -> manifest path (overrides the suite)
    progress: bool = True
    steps: int | None = None  # override the suite's training steps (= overrides["steps"])
    embeddings: object = None  # an embeddings submission: its vectors replace learning
    controls: bool = True  # score the suite's controls (docs/metrics.md) beside the methods
    select: object = None  # a vwbench.selection.Selection: only these trials (None: all)
    seeds: tuple[int, ...] | None = None  # trial seeds, each a full set of trials (None: the suite's)
    overrides: dict = field(default_factory=dict)  # TrainConfig field -> value; see `resolve_overrides`
    shard: tuple[int, int] | None = None  # (I, N): only the I-th of N disjoint parts of the trials
    executor: object = None  # where the work runs (vwbench.executors; None: locally)
    lock: object = None  # a lock file (path or read dict): pins and verifies hub models
    allow_unpinned: bool = False  # run hub models whose revision is a branch (recorded as resolved)
    safety_checker: bool = False  # screen generated images with the task's safety checker
    learn_only: bool = False  # no transfer: each word scored in-domain, beside its anchor's
    # own embedding (every trial, δ too): `vwbench learn`


@dataclass
class StudySummary:
    run_id: str
    computed: dict = field(default_factory=lambda: defaultdict(int))
    reused: dict = field(default_factory=lambda: defaultdict(int))
    failures: list[str] = field(default_factory=list)
    stage_seconds: dict = field(default_factory=lambda: defaultdict(float))
    fits: list[dict] = field(default_factory=list)
    replaced: dict = field(default_factory=lambda: defaultdict(int))  # stored under older code/settings
    changes: list[str] = field(default_factory=list)  # what differs from those results
    backoffs: list[dict] = field(default_factory=list)  # out-of-memory retries (learn_chunk)

    def replaced_note(self) -> str:
        """One line on stored results that older code or settings produced and this run recomputed ('' if none)."""
        if not self.replaced:
            return ""
        counts = ", ".join(f"{v} {k}" for k, v in self.replaced.items())
        why = "; ".join(self.changes) or "their keys differ"
        return f"{counts} in the store came from older code or settings and were recomputed (what changed: {why})"


def method_label(method) -> str:
    """A method's name in records and tables: with its non-default parameters, e.g. `ridge(lam=0.1)`."""
    from vwbench.method_spec import label

    return label(method)


def method_id(method, source=None) -> dict:
    """What a transfer method's fits and scores depend on: name, parameters and code (`fingerprint.method_code`);
    for a submission folder (`source`), also its manifest's version and parameters and all its Python files."""
    from vwbench import fingerprint

    out = {"name": method_label(method), "params": getattr(method, "params", {})}
    folder = None
    if isinstance(source, (str, os.PathLike)):
        from vwbench.submissions import MANIFEST, read_manifest

        p = Path(source)
        if (p / MANIFEST).is_file() or (p.name == MANIFEST and p.is_file()):
            sub = read_manifest(p)
            folder = sub.path
            out["version"] = sub.manifest.get("version")
            out["parameters"] = sub.manifest.get("parameters") or {}
    out["code"] = fingerprint.method_code(method, folder)
    return out


# TrainConfig fields a run may override; a run with any override is its own variant of the suite
OVERRIDABLE = ("steps", "lr", "batch_size", "seed")


def resolve_overrides(suite: SuiteSpec, options: StudyOptions) -> dict:
    """The overrides of the suite's training settings a run asks for (`options.overrides`, plus the older
    `options.steps`), checked; settings equal to the suite's own are dropped. One-line VWBenchError when two
    disagree, a field cannot be overridden, a value is not positive, or nothing is trained (--embeddings)."""
    overrides = dict(options.overrides or {})
    if options.steps is not None:
        if overrides.get("steps", options.steps) != options.steps:
            raise VWBenchError(f"conflicting overrides: steps={options.steps} and steps={overrides['steps']}")
        overrides["steps"] = options.steps
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise VWBenchError(f"cannot override {', '.join(unknown)} (overridable: {', '.join(OVERRIDABLE)})")
    out = {}
    for name in OVERRIDABLE:
        if overrides.get(name) is None:
            continue
        value, suite_value = overrides[name], getattr(suite.train, name)
        kind = float if name == "lr" else int
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise VWBenchError(f"override {name}={value!r}: expected {'a number' if kind is float else 'an integer'}")
        value = kind(value)
        if value < 0 or (value == 0 and name != "seed"):
            raise VWBenchError(f"override {name}={value!r}: must be {'>= 0' if name == 'seed' else 'positive'}")
        if value != suite_value:
            out[name] = value
    if out and options.embeddings:
        raise VWBenchError(
            f"{', '.join(f'{k}={v:g}' for k, v in out.items())} cannot apply to an embeddings "
            "submission: its vectors are scored, not trained"
        )
    return out


def variant_name(suite_name: str, overrides: dict) -> str:
    """`suite@steps=5,lr=0.01`: the name a run with overrides files its results under, apart from the suite's."""
    if not overrides:
        return suite_name
    return suite_name + "@" + ",".join(f"{k}={overrides[k]:g}" for k in OVERRIDABLE if k in overrides)


def _describe_change(change: str) -> str:
    """`methods.m.code` -> `code of method m`, and the like; other paths stay as they are."""
    path = change.partition(" ")[0]
    parts = path.split(".")
    named = {"methods": "method", "models": "task model", "datasets": "dataset"}
    if len(parts) == 3 and parts[0] in named and parts[2] in ("code", "weights", "manifest_sha256"):
        what = {"manifest_sha256": "manifest"}.get(parts[2], parts[2])
        return f"{what} of {named[parts[0]]} {parts[1]}"
    if parts[0] == "code" and len(parts) == 2:
        return f"{'learner' if parts[1] == 'learn' else parts[1]} code"
    return change


def _changes(old, new, path: str = "") -> list[str]:
    """Dotted paths where two dependency records differ (only keys both have), with short values shown."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [c for k in sorted(set(old) & set(new)) for c in _changes(old[k], new[k], f"{path}.{k}" if path else k)]
    if old == new:
        return []
    short = all(
        isinstance(v, (int, float, bool, type(None))) or (isinstance(v, str) and len(v) <= 24) for v in (old, new)
    )
    return [f"{path} {old!r} -> {new!r}" if short else path]


class Study:
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
        self.model_ids = {t.name: model_id(t, self.device.type) for t in suite.tasks}
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
                model=self.model_ids[task.name],
                dataset=ds_id,
            )
        return self.store.key(
            "vector",
            trial=dataclasses.asdict(trial),
            model=self.model_ids[task.name],
            dataset=ds_id,
            train=learning_settings(self.train),
            version=__version__,
            code=code("learn"),
            packages=packages(),
        )

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
            source=self.model_ids[src.name],
            target=self.model_ids[tgt.name],
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

    def vocabulary(self, task: TaskSpec):
        if task.name not in self._spaces:
            self._spaces[task.name] = self.model(task).vocabulary()
        return self._spaces[task.name]

    def _fail(self, message: str) -> None:
        self.summary.failures.append(message)
        tqdm.write(f"vwbench: {message}", file=sys.stderr)

    # ---- the loop -------------------------------------------------------------------------------------

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

    def eval_tasks(self, train_task: TaskSpec) -> list[TaskSpec]:
        """The task models a word learned in `train_task` is scored in (only its own when learning only)."""
        return [train_task] if self.opt.learn_only else self.tasks

    def anchor_key(self, trial: Trial, task: TaskSpec) -> str:
        return self.store.key(
            "anchor",
            trial=dataclasses.asdict(trial),
            model=self.model_ids[task.name],
            num_vectors=self.train.num_vectors,
        )

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
                else [_describe_change(c) for c in _changes(old, self.depends)]
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
