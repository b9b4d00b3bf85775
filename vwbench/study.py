"""The study loop behind `vwbench run` and `vwbench probe`: learn (or reuse) every trial's word, fit the transfer
maps between every ordered pair of task models, and score every word in-domain and transferred.

It knows only the TaskModel and TransferMethod interfaces. Every vector, fit and score is keyed by what it
depends on and kept in the store as soon as it exists, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from vwbench import __version__
from vwbench.errors import VWBenchError
from vwbench.learn import learn
from vwbench.records import Score, Trial
from vwbench.spec import DatasetSpec, ModelRef, SuiteSpec, TaskSpec
from vwbench.tokenizer import single_token_id


@dataclass
class StudyOptions:
    methods: list = field(default_factory=lambda: ["linear_transfer"])   # names, submission paths or instances
    unconstrained: bool = True
    deltas: tuple[float, ...] | None = None          # None: the suite's deltas
    device: str = "cpu"
    data: dict = field(default_factory=dict)         # dataset name -> manifest path (overrides the suite)
    progress: bool = True
    steps: int | None = None                         # override the suite's training steps
    embeddings: object = None                        # an embeddings submission: its vectors replace learning


@dataclass
class StudySummary:
    run_id: str
    computed: dict = field(default_factory=lambda: defaultdict(int))
    reused: dict = field(default_factory=lambda: defaultdict(int))
    failures: list[str] = field(default_factory=list)
    stage_seconds: dict = field(default_factory=lambda: defaultdict(float))
    fits: list[dict] = field(default_factory=list)


def model_id(task: TaskSpec) -> dict:
    """Everything a task's results depend on; shipped micro models add their weights' hashes."""
    key = {"task": task.name, "kind": task.task, "id": task.model.id, "revision": task.model.revision,
           "template": task.template, "image_size": task.image_size, "loss": task.loss, "metric": task.metric,
           "evaluator": task.evaluator}
    refs = [task.model] + ([ModelRef(**task.evaluator["model"])] if task.evaluator else [])
    if any(r.is_micro for r in refs):
        from vwbench.micro.store import fingerprint
        from vwbench.models.zoo import MICRO

        names = {i: n for (_, i), n in MICRO.items()}
        key["weights"] = [fingerprint(names[r.id]) for r in refs if r.is_micro and r.id in names]
    return key


def dataset_id(ds: DatasetSpec, manifest: str | None) -> dict:
    return {"name": ds.name, "source": ds.source, "split": ds.split, "manifest": manifest,
            "concepts": [dataclasses.asdict(c) for c in ds.concepts]}


def method_label(method) -> str:
    return getattr(method, "name", type(method).__name__)


class Study:
    """One suite run against one store."""

    def __init__(self, suite: SuiteSpec, store, options: StudyOptions):
        from vwbench.models.factory import resolve_device

        self.suite, self.store, self.opt = suite, store, options
        self.device = resolve_device(options.device)
        self.train = suite.train if options.steps is None else dataclasses.replace(suite.train, steps=options.steps)
        deltas = suite.deltas if options.deltas is None else options.deltas
        self.deltas: list[float | None] = ([None] if options.unconstrained else []) + list(deltas)
        self.methods = [self._method(m) for m in options.methods]
        self._models: dict[str, object] = {}
        self._fits: dict[tuple, object] = {}
        self.summary: StudySummary | None = None
        self.submitted = self._submitted(options.embeddings) if options.embeddings else None
        # scores of a submission's vectors are kept apart from the suite's own: "<suite>+<submission>"
        self.name = suite.name if self.submitted is None else f"{suite.name}+{self.submission_name}"

    # ---- pieces ---------------------------------------------------------------------------------------

    def _method(self, m):
        if not isinstance(m, str):
            return m
        from vwbench.submissions import load_method

        return load_method(m)

    def _submitted(self, path) -> dict:
        """{(dataset, concept, anchor, task kind, delta): vector} of an embeddings submission, checked."""
        from vwbench.submissions import Submission, check_suite, load_embeddings, read_manifest

        sub = path if isinstance(path, Submission) else read_manifest(path)
        self.submission_name = sub.name
        vectors = sub.vectors or load_embeddings(sub)
        check_suite(sub, self.suite, vectors)       # a task or dataset the suite lacks: one line, not a KeyError
        out = {}
        for v in vectors:
            task = self.suite.task(v.task)
            out[(v.dataset, v.concept, v.anchor, task.task, v.delta)] = v.vector
        return out

    def model(self, task: TaskSpec):
        if task.name not in self._models:
            from vwbench.models.factory import build_task_model

            t = time.perf_counter()
            self._models[task.name] = build_task_model(task, self.device)
            self.summary.stage_seconds["load_models"] += time.perf_counter() - t
        return self._models[task.name]

    def trials(self, ds: DatasetSpec, task: TaskSpec) -> list[Trial]:
        if self.submitted is not None:
            return [Trial(self.name, d, c, a, t, delta, self.train.seed)
                    for (d, c, a, t, delta) in self.submitted if d == ds.name and t == task.task]
        return [Trial(self.name, ds.name, c.id, a, task.task, d, self.train.seed)
                for d in self.deltas for c in ds.concepts for a in ds.anchors_for(c, self.suite.anchors)]

    def vector_key(self, trial: Trial, task: TaskSpec, ds_id: dict) -> str:
        if self.submitted is not None:
            v = self.submitted[(trial.dataset, trial.concept, trial.anchor, trial.train_task, trial.delta)]
            return self.store.key("submitted", trial=dataclasses.asdict(trial), vector=v.double().sum().item(),
                                  shape=list(v.shape), model=model_id(task))
        return self.store.key("vector", trial=dataclasses.asdict(trial), model=model_id(task), dataset=ds_id,
                              train=dataclasses.asdict(self.train), version=__version__)

    def score_key(self, vkey: str, eval_task: TaskSpec, method: str, fit_key: str | None) -> str:
        return self.store.key("score", vector=vkey, model=model_id(eval_task), method=method, fit=fit_key,
                              version=__version__)

    def fit_key(self, method, src: TaskSpec, tgt: TaskSpec) -> str:
        return self.store.key("fit", method=method_label(method), params=getattr(method, "params", {}),
                              source=model_id(src), target=model_id(tgt), version=__version__)

    def fit(self, method, src: TaskSpec, tgt: TaskSpec):
        """The fitted map src -> tgt for a method (fitted once per run, its report stored); None if fit failed."""
        from vwbench.transfer.base import fit_with_report

        name, key = method_label(method), self.fit_key(method, src, tgt)
        if (name, src.name, tgt.name) not in self._fits:
            import copy

            fitted = copy.deepcopy(method)
            t = time.perf_counter()
            try:
                report = fit_with_report(fitted, self.model(src).vocabulary(), self.model(tgt).vocabulary())
            except Exception as exc:  # noqa: BLE001 - a submitted method may raise anything; others go on
                self._fail(f"method {name!r} could not be fitted {src.task}->{tgt.task}: {exc}")
                fitted = None
            else:
                self.store.put_fit(key, report.as_dict(), self.run_id)
                self.summary.fits.append(report.as_dict())
            self.summary.stage_seconds["fit"] += time.perf_counter() - t
            self._fits[(name, src.name, tgt.name)] = fitted
        return self._fits[(name, src.name, tgt.name)]

    def _fail(self, message: str) -> None:
        self.summary.failures.append(message)
        tqdm.write(f"vwbench: {message}", file=sys.stderr)

    # ---- the loop -------------------------------------------------------------------------------------

    def learn_vectors(self, ds: DatasetSpec, data, task: TaskSpec, ds_id: dict) -> list[tuple[Trial, str, torch.Tensor]]:
        """Every trial's vector for one task model: from the store, the submission, or learned now."""
        out, todo = {}, []
        if self.submitted is not None:
            return [(tr, self.vector_key(tr, task, ds_id),
                     self.submitted[(tr.dataset, tr.concept, tr.anchor, tr.train_task, tr.delta)].float())
                    for tr in self.trials(ds, task)]
        for trial in self.trials(ds, task):
            key = self.vector_key(trial, task, ds_id)
            got = self.store.get_vector(key)
            if got is not None:
                out[key] = (trial, key, got[0].float().reshape(-1, got[0].shape[-1]))
                self.summary.reused["vectors"] += 1
            else:
                todo.append((trial, key))
        if todo:
            model = self.model(task)
            t = time.perf_counter()
            keys = {trial: key for trial, key in todo}
            for res in learn(model, data, [tr for tr, _ in todo], self.train, progress=self.opt.progress):
                key = keys[res.trial]
                meta = {"model": task.model.id, "revision": task.model.revision, "task": task.name,
                        "concept": res.trial.concept, "anchor": res.trial.anchor, "delta": res.trial.delta,
                        "seed": res.trial.seed, "steps": self.train.steps, "loss_start": res.loss_start,
                        "loss_end": res.loss_end, "nearest_token": res.nearest_token,
                        "anchor_distance": res.anchor_distance, "d_nn": res.extra["d_nn"]}
                self.store.put_vector(key, res.trial, res.vector, meta, self.run_id)
                out[key] = (res.trial, key, res.vector)
                self.summary.computed["vectors"] += 1
            self.summary.stage_seconds["learn"] += time.perf_counter() - t
        return [out[self.vector_key(tr, task, ds_id)] for tr in self.trials(ds, task)]

    def score(self, words, eval_task: TaskSpec, data, method=None) -> None:
        """Score words [(trial, key, vector [n, d_src])] in `eval_task`, transferred by `method` unless in-domain."""
        name = "in_domain" if method is None else method_label(method)
        fit_id = None
        if method is not None:
            src = self.suite.task(words[0][0].train_task)
            fit_id = self.fit_key(method, src, eval_task)
        todo = [(tr, self.score_key(k, eval_task, name, fit_id), v) for tr, k, v in words]
        todo = [w for w in todo if self.store.get_score(w[1]) is None]
        self.summary.reused["scores"] += len(words) - len(todo)
        if not todo:
            return
        if method is not None:  # fitted only when some score needs it
            fitted = self.fit(method, src, eval_task)
            if fitted is None:
                return
        model = self.model(eval_task)
        t = time.perf_counter()
        vectors = torch.stack([v for _, _, v in todo])
        if method is not None:
            from vwbench.transfer.base import transfer

            k, n, d = vectors.shape
            try:
                vectors = transfer(fitted, vectors.reshape(k * n, d), model.token_embeddings().shape[1]).reshape(k, n, -1)
            except VWBenchError as exc:
                self._fail(str(exc))
                return
        placeholders = [single_token_id(tr.anchor) for tr, _, _ in todo]
        concepts = [tr.concept for tr, _, _ in todo]
        chunk = max(1, self.train.concepts_per_batch)
        with torch.no_grad():
            for i in range(0, len(todo), chunk):
                results = model.evaluate(vectors[i : i + chunk].to(model.device), placeholders[i : i + chunk],
                                         concepts[i : i + chunk], data)
                for (trial, key, _), r in zip(todo[i : i + chunk], results):
                    score = Score(trial, eval_task.task, name, model.metric_name, float(r["value"]), r.get("extra", {}))
                    self.store.put_score(key, score, self.run_id)
                    self.summary.computed["scores"] += 1
        self.summary.stage_seconds["evaluate"] += time.perf_counter() - t

    def run(self) -> StudySummary:
        from vwbench.data.manifest import load_dataset

        self.summary = StudySummary(run_id="")
        meta = {"suite": self.name, "device": str(self.device), "deltas": self.deltas,
                "methods": [method_label(m) for m in self.methods], "train": dataclasses.asdict(self.train),
                "models": {t.name: model_id(t) for t in self.suite.tasks}, "argv": sys.argv}
        self.run_id = self.summary.run_id = self.store.begin_run(meta)
        status = "failed"
        try:
            for ds in self.suite.datasets:
                manifest = self.opt.data.get(ds.name) or self.suite.data.get(ds.name)
                t = time.perf_counter()
                data = load_dataset(ds, manifest)
                self.summary.stage_seconds["data"] += time.perf_counter() - t
                ds_id = dataset_id(ds, manifest)
                for train_task in self.suite.tasks:
                    words = self.learn_vectors(ds, data, train_task, ds_id)
                    if not words:
                        continue
                    for eval_task in self.suite.tasks:
                        if eval_task.name == train_task.name:
                            self.score(words, eval_task, data)
                        else:
                            for method in self.methods:
                                self.score(words, eval_task, data, method)
            status = "ok" if not self.summary.failures else "partial"
        finally:
            self.store.end_run(self.run_id, dict(self.summary.stage_seconds), status)
        return self.summary
