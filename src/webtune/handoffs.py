"""The files one stage hands to the next, as pydantic models shared by writer and readers.

* `Manifest` (``manifest.json``, every stage): what ran, its fingerprint, inputs, outputs
  with their SHA-256, counts, stats and timings. `webtune.stage.run_stage` writes it.
* `TrainResult` (``train/train_result.json``): what training produced and how, including
  what later stages must repeat exactly (``max_seq_len``, ``chat_template``).
* `EvalReport` (``evaluate/report.json``): base vs tuned figures, rows, counts, settings.
* `RegistryVersion` (``version.json``, in the registry and in ``register/``): one
  registered version with its lineage and gate results.

Each model has one ``read(path)`` and one ``write(path)``. Writes are atomic
(`webtune.jsonl.atomic_write_json`); a missing or malformed file is an `InputError` of one
line naming the file (and the field). Unknown keys are ignored on read, so files written by
an earlier webtune still load; fields added since have defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

from webtune.errors import InputError, StageError
from webtune.jsonl import atomic_write_json, read_json_object

H = TypeVar("H", bound="Handoff")


class Part(BaseModel):
    """A piece of a hand-off file: unknown keys are ignored, fields are set by name or alias."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Handoff(Part):
    """A whole hand-off file: ``FILE`` is its name inside a stage directory."""

    FILE: ClassVar[str]
    MISSING: ClassVar[str] = "not found"

    @classmethod
    def read(cls: type[H], path: str | Path) -> H:
        """The model in ``path`` (a file, or a directory holding ``FILE``); one-line error otherwise."""
        path = Path(path)
        if path.is_dir():
            path = path / cls.FILE
        data = read_json_object(path, cls.MISSING)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InputError(f"{path}: {validation_summary(exc)}") from None

    def write(self, path: str | Path) -> Path:
        """Write atomically to ``path`` (a file, or a directory to hold ``FILE``); return the file."""
        path = Path(path)
        if path.is_dir():
            path = path / self.FILE
        atomic_write_json(path, self.to_json())
        return path

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to the file (aliases such as ``in`` as the file spells them)."""
        # Stats may hold values JSON has no type for (a Path, a numpy number): written as text.
        return self.model_dump(mode="json", by_alias=True, fallback=str)


def validation_summary(exc: ValidationError) -> str:
    """The first validation error as ``field.path: message`` (one line), plus how many more."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


# ---------------------------------------------------------------------------------- manifest
class Counts(Part):
    """How many records entered a stage, and how many it kept and rejected (``in`` in the file)."""

    seen: int = Field(0, alias="in")
    kept: int = 0
    rejected: int = 0

    def __init__(self, seen: int = 0, kept: int = 0, rejected: int = 0, **data: Any):
        # Positional like the dataclass it replaced: ``Counts(10, 8, 2)``.
        super().__init__(**{"in": data.pop("in", seen), "kept": kept, "rejected": rejected, **data})

    def check(self, stage: str) -> None:
        """Raise if records were lost or invented: every record is kept or rejected."""
        if self.seen != self.kept + self.rejected:
            raise StageError(
                f"{stage}: counts do not add up: in={self.seen} kept={self.kept} "
                f"rejected={self.rejected}"
            )

    def to_json(self) -> dict[str, int]:
        return self.model_dump(by_alias=True)


class FileEntry(Part):
    """One file of a stage's output (or of an external input): path, size and SHA-256."""

    path: str
    bytes: int
    sha256: str


class InputRef(Part):
    """One input of a stage: a published stage (by fingerprint) or files (by content hash)."""

    stage: str | None = None
    path: str
    fingerprint: str | None = None
    outputs: list[FileEntry] | None = None
    files: list[FileEntry] | None = None

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: Any) -> dict[str, Any]:
        # The file lists only what applies: a stage input has no `files`, a file input no `stage`.
        return {k: v for k, v in handler(self).items() if v is not None}


class Manifest(Handoff):
    """``manifest.json``: the record `run_stage` writes next to every published stage output.

    ``skipped`` is never written: `run_stage` sets it on the manifest it returns when the
    stage was unchanged and not run again.
    """

    FILE: ClassVar[str] = "manifest.json"

    stage: str = ""
    status: Literal["complete"] = "complete"
    fingerprint: str
    run_dir: str = ""
    config: Any = None
    inputs: list[InputRef] = []
    outputs: list[FileEntry] = []
    counts: Counts = Counts()
    stats: dict[str, Any] = {}
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float = 0.0
    versions: dict[str, str] = {}
    # What of the work dir outlives publishing (`StageResult.keep_work`); a skipped stage
    # clears the rest, which a kill right after publishing left. None: written by an earlier
    # webtune, whose work dir is left alone.
    keep_work: list[str] | None = None
    skipped: bool = Field(False, exclude=True)


# ------------------------------------------------------------------------------ train result
class ApiEndpoint(Part):
    """Where a hosted model is served: the base URL and the *name* of the key's variable."""

    base_url: str | None = None
    api_key_env: str | None = None


class TrackingRun(Part):
    """A link to an experiment-tracking run (`webtune.tracking`): which tracker, its run id and
    where its store is (an MLflow tracking URI, a W&B directory or URL). Never a secret."""

    backend: str
    run_id: str
    tracking_uri: str | None = None  # MLflow
    experiment: str | None = None  # MLflow experiment / W&B project
    name: str | None = None
    mode: str | None = None  # W&B: offline or online
    dir: str | None = None  # W&B: the run's local directory
    url: str | None = None


class TrainResult(Handoff):
    """``train_result.json``: what later stages (evaluate, register, chat) read of training.

    ``adapter_dir``/``model_dir`` are relative to the train directory; ``model_id`` is the
    hosted ``ft:...`` id. ``max_seq_len`` and ``chat_template`` are what the local trainer
    encoded with, so evaluation encodes the same way (both None for a hosted model, or in a
    file written before they were recorded).
    """

    FILE: ClassVar[str] = "train_result.json"
    MISSING: ClassVar[str] = "not found (run `webtune train` first)"

    backend: str
    method: str | None = None
    base_model: str | None = None
    base_model_path: str | None = None
    # The Hub commit the base model was downloaded at (a Hub id); None for a local or packaged model.
    base_model_revision: str | None = None
    adapter_dir: str | None = None
    model_dir: str | None = None
    model_id: str | None = None
    job_id: str | None = None
    files: dict[str, str] = {}
    api: ApiEndpoint | None = None
    metrics: dict[str, Any] = {}
    max_seq_len: int | None = None
    chat_template: str | None = None
    attached: bool = False  # a hosted job started elsewhere and followed by `webtune train attach`
    tracking: list[TrackingRun] = []  # the tracking runs training logged to (evaluate logs into MLflow's)
    # What was optimized, in order: "sft", "dpo", "sft+dpo", ... (local trainer).
    objective: str = "sft"

    @property
    def hosted(self) -> bool:
        """Whether the tuned model lives behind an API (an ``ft:`` id) rather than on disk."""
        return bool(self.model_id)

    def artifact(self, train_dir: Path) -> tuple[Literal["adapter", "model"], Path]:
        """The first of (``adapter``, its directory) and (``model``, its directory) that is set.

        An InputError naming ``train_result.json`` when the one set is not a directory, or
        when neither is set.
        """
        where = Path(train_dir) / self.FILE
        for kind, value in (("adapter", self.adapter_dir), ("model", self.model_dir)):
            if value:
                path = Path(train_dir) / value
                if not path.is_dir():
                    raise InputError(f"{where}: {kind}_dir: {path} is not a directory")
                return kind, path  # type: ignore[return-value]
        raise InputError(f"{where}: none of adapter_dir, model_dir, model_id is set")

    def local_dirs(self, train_dir: Path) -> tuple[Path | None, Path | None]:
        """(adapter dir, full model dir) of a local model, each checked to be a directory."""
        kind, path = self.artifact(train_dir)
        full = Path(train_dir) / self.model_dir if self.model_dir else None
        if full is not None and not full.is_dir():
            raise InputError(f"{Path(train_dir) / self.FILE}: model_dir: {full} is not a directory")
        return (path, full) if kind == "adapter" else (None, path)


# ----------------------------------------------------------------------------- eval report
class MetricRow(Part):
    """One figure of the report: base, tuned, their difference and whether that is better.

    For a per-example figure: ``delta_ci95`` is the paired bootstrap 95% interval ``[lo, hi]`` of
    the tuned-minus-base delta, and ``wins``/``ties``/``losses`` count the examples on which the
    tuned model did better, the same, worse (``n`` of them). Reports written before these
    fields existed read with them unset.
    """

    metric: str
    base: float | None = None
    tuned: float | None = None
    delta: float | None = None
    direction: str | None = None
    verdict: str | None = None
    delta_ci95: list[float] | None = None
    wins: int | None = None
    ties: int | None = None
    losses: int | None = None
    n: int | None = None

    def significant(self) -> bool:
        """True when the 95% interval of the delta excludes 0."""
        return bool(self.delta_ci95) and (self.delta_ci95[0] > 0 or self.delta_ci95[1] < 0)


class EvalCounts(Part):
    """How many held-out examples there were and what was done with them."""

    test_examples: int = 0
    evaluated: int = 0
    rejected: int = 0
    loss_examples: int = 0
    generated: int = 0
    contaminated: int = 0


class EvalSettings(Part):
    """How the models were asked: examples, answer length, metrics, decoding."""

    max_examples: int | None = None
    max_new_tokens: int | None = None
    metrics: list[str] = []
    decoding: str = "greedy"
    notes: dict[str, str] = {}  # per figure, e.g. {"rouge_l": "units: jieba words (zh) ×16"}


class JudgePairResult(Part):
    """One pairing judged both ways round: ``first`` vs ``second`` (wins are ``first``'s)."""

    pair: str
    first: str
    second: str
    compared: int = 0  # examples whose two verdicts (one per order) were both readable
    wins: int = 0
    ties: int = 0
    losses: int = 0
    win_rate: float | None = None  # (wins + ties / 2) / compared
    win_rate_ci95: list[float] | None = None  # bootstrap over examples
    position_bias_rate: float | None = None  # share of examples whose verdict changed when the order was swapped
    invalid: int = 0  # examples left without two readable verdicts


class JudgeSummary(Part):
    """The judge section of ``report.json``; ``status`` is ``skipped`` when no judge was configured."""

    status: Literal["done", "skipped"] = "skipped"
    note: str = ""
    judge: str | None = None  # "openai:gpt-4o-mini"
    rubric: str | None = None
    pairs: list[JudgePairResult] = []
    calls: int = 0  # requests sent (retries of malformed verdicts included)
    cached: int = 0  # verdicts read from the cache
    malformed: dict[str, int] = {}  # reason -> replies rejected and asked again
    estimated_cost_usd: float | None = None


class ForgettingSummary(Part):
    """The forgetting section: loss on a general set, base vs tuned; ``flagged`` past the threshold."""

    status: Literal["done", "skipped"] = "skipped"
    note: str = ""
    source: str | None = None  # the general set: a file, or "webtune built-in general set"
    examples: int = 0
    base_loss: float | None = None
    tuned_loss: float | None = None
    loss_increase: float | None = None  # tuned - base
    relative_increase: float | None = None  # (tuned - base) / base
    threshold: float | None = None  # the relative increase that flags forgetting
    flagged: bool = False
    judge: JudgePairResult | None = None  # tuned vs base on the general set, when a judge is configured


class PreferenceAccuracy(Part):
    """The preference section: on held-out pairs, how often each model gives the chosen answer a higher
    log-likelihood than the rejected one (``score``: ``sum`` of the answer's token log-probs, or
    ``mean`` per token), with 95% bootstrap intervals; ``delta`` is tuned minus base."""

    status: Literal["done", "skipped"] = "skipped"
    note: str = ""
    source: str | None = None  # the pairs file (the dataset stage's preference_test.jsonl)
    pairs: int = 0  # pairs scored
    unscored: int = 0  # pairs left out: an answer cut away entirely by max_len
    score: str = "sum"
    base_accuracy: float | None = None
    tuned_accuracy: float | None = None
    base_ci95: list[float] | None = None
    tuned_ci95: list[float] | None = None
    delta: float | None = None
    delta_ci95: list[float] | None = None
    base_margin: float | None = None  # mean log-likelihood of chosen minus rejected
    tuned_margin: float | None = None


class ContaminatedExample(Part):
    """A test example sharing an n-gram with the training split or a benchmark."""

    line: int
    id: str | None = None
    sources: list[str] = []
    ngram: str = ""


class Contamination(Part):
    """The contamination check: n-gram size, what was indexed, the flagged examples."""

    n: int = 13
    checked: int = 0
    indexed: dict[str, int] = {}
    excluded_from_headline: bool = True
    flagged: list[ContaminatedExample] = []

    def by_source(self) -> dict[str, int]:
        """How many flagged examples overlap each source."""
        counts: dict[str, int] = {}
        for flag in self.flagged:
            for source in flag.sources:
                counts[source] = counts.get(source, 0) + 1
        return counts


class ChampionSet(Part):
    """Champion vs challenger on one set: mean token-weighted loss of each, the delta
    (challenger minus champion: below 0 is better) and its paired bootstrap 95% interval."""

    name: str  # "benchmark" (the frozen union of earlier test splits) or "new" (this version's test split)
    examples: int = 0
    champion_loss: float | None = None
    challenger_loss: float | None = None
    delta: float | None = None
    delta_ci95: list[float] | None = None
    wins: int = 0
    ties: int = 0
    losses: int = 0
    sha256: str | None = None  # of the set's examples, so a frozen benchmark can be seen to be the same


class ChampionReport(Part):
    """A refresh run's comparison of the new model (challenger) with the production one (champion)."""

    champion: str  # NAME@N of the production version
    challenger: str = "tuned"
    metric: str = "loss"
    sets: list[ChampionSet] = []

    def set(self, name: str) -> ChampionSet | None:
        """The comparison on set ``name``, None when it was not made."""
        return next((s for s in self.sets if s.name == name), None)


class EvalReport(Handoff):
    """``report.json`` of the evaluate stage: ``metrics`` is ``{"base": {...}, "tuned": {...}}``.

    Optional sections (None when not run) follow the figures: ``contamination`` here; further
    checks (a judge, forgetting) add their own optional field and a renderer in
    ``webtune.evaluate.report.SECTIONS``.
    """

    FILE: ClassVar[str] = "report.json"
    MISSING: ClassVar[str] = "not found (run `webtune evaluate` first)"

    created_at: str | None = None
    models: dict[str, str] = {}
    metrics: dict[str, dict[str, float | None]] = {}
    deltas: dict[str, float | None] = {}
    rows: list[MetricRow] = []
    counts: EvalCounts = EvalCounts()
    settings: EvalSettings = EvalSettings()
    timings_s: dict[str, float] = {}
    summary: str = ""
    backend: str | None = None
    judge: JudgeSummary | None = None  # None: written before the judge existed
    forgetting: ForgettingSummary | None = None
    preference: PreferenceAccuracy | None = None  # None: no preference pairs checked
    contamination: Contamination | None = None
    champion: ChampionReport | None = None  # a refresh run with a production model only

    def figure(self, model: str, key: str) -> float | None:
        """One figure (``model`` is ``base`` or ``tuned``), None when it was not measured."""
        value = self.metrics.get(model, {}).get(key)
        return float(value) if isinstance(value, (int, float)) else None

    def row(self, key: str) -> MetricRow | None:
        """The row of one figure, None when the report has none."""
        return next((r for r in self.rows if r.metric == key), None)


# ------------------------------------------------------------------------- registry version
class StageLineage(Part):
    """What a version keeps of one stage's manifest."""

    fingerprint: str | None = None
    config: Any = None
    counts: Counts | None = None
    finished_at: str | None = None
    versions: dict[str, str] = {}


class Lineage(Part):
    """Which run, stages, configs, data and figures produced a version."""

    run_dir: str | None = None
    stages: dict[str, StageLineage] = {}
    data: dict[str, dict[str, str]] = {}
    base_model: str | None = None
    base_model_path: str | None = None
    base_model_revision: str | None = None  # the Hub commit, for a Hub id
    tracking: list[TrackingRun] = []  # links to the experiment-tracking runs of training and evaluation
    train_metrics: dict[str, Any] = {}
    eval_metrics: dict[str, dict[str, float | None]] = {}

    def eval_figure(self, model: str, key: str) -> float | None:
        """An evaluation figure of ``model`` (``base`` or ``tuned``), None when missing."""
        value = self.eval_metrics.get(model, {}).get(key)
        return float(value) if isinstance(value, (int, float)) else None


class GateCheck(Part):
    """One promotion gate's verdict."""

    gate: str
    passed: bool
    detail: str = ""


class GateResults(Part):
    """Every active gate's verdict, and whether all passed."""

    checks: list[GateCheck] = []
    passed: bool = True

    def failed_text(self) -> str:
        """The failed gates as ``gate (detail); ...`` (empty when none failed)."""
        return "; ".join(f"{g.gate} ({g.detail})" for g in self.checks if not g.passed)


class ExportRecord(Part):
    """One export of a version (``webtune export``): its format, where it went, its files and proof."""

    format: str
    path: str
    files: dict[str, str] = {}  # file name -> sha256
    created_at: str | None = None
    roundtrip: dict[str, Any] = {}  # the round-trip check's summary (agreement per quantization)


class RegistryVersion(Handoff):
    """``version.json``: one registered version of a model.

    In the registry (``<name>/v<N>/version.json``) the file holds the record; `ModelRegistry.get`
    adds ``path`` and ``aliases``. The register stage's ``register/version.json`` also holds
    those, plus ``registry`` and ``promoted``.
    """

    FILE: ClassVar[str] = "version.json"
    MISSING: ClassVar[str] = "not found; the run has not registered a version yet"

    name: str
    version: int
    created_at: str | None = None
    kind: Literal["adapter", "model", "hosted"]
    artifact: str | None = None  # the copied adapter or model, relative to the version directory
    model_id: str | None = None
    api: ApiEndpoint | None = None  # where a hosted model answers (the key's variable name, no secret)
    backend: str | None = None
    method: str | None = None
    base_model: str | None = None
    base_model_path: str | None = None
    description: str = ""
    pipeline: str | None = None
    lineage: Lineage = Lineage()
    gates: GateResults = GateResults()
    # A refresh run's version: the dataset version, how it was trained (continue / retrain, from
    # which version), and its champion comparison's outcome.
    refresh: dict[str, Any] | None = None
    # The register stage's fingerprint: registering the same inputs and settings again (a rerun
    # after a kill) returns this version instead of adding another.
    identity: str | None = None
    # sha256 over the artifact's files (relative path and content, in path order); None when hosted
    weights_sha256: str | None = None
    exports: list[ExportRecord] = []
    # Where it is and what points at it: set by the registry when read, not part of the record.
    path: str | None = None
    aliases: list[str] = []
    registry: str | None = None
    promoted: bool | None = None

    @property
    def label(self) -> str:
        """``NAME@VERSION``."""
        return f"{self.name}@{self.version}"

    def record(self) -> dict[str, Any]:
        """What the registry stores in the version's file (without where it is and its aliases)."""
        return self.model_dump(mode="json", by_alias=True, exclude={"path", "aliases", "registry", "promoted"})
