"""Config of the dataset stage: templates, Q&A from Markdown, a teacher LLM, splits, mixing, export.

Everything here is light (no torch, no transformers, no openai): loading a pipeline file only
validates settings. Jinja templates are compiled at load time so a syntax error names its key.

    dataset:
      templates:
        - name: copywriter
          requires: [title, brand, features, description]
          system: You are a copywriter.
          user: "Write a description for {{ title }} by {{ brand }}."
          assistant: "{{ description }}"
      qa: {sources: ["*.md"]}            # Q&A from Markdown sections (optional)
      teacher: {model: gpt-4o-mini, mode: qa, base_url: http://localhost:8000/v1}  # optional
      split: {validation: 0.1, test: 20}   # fractions (< 1) or counts (whole numbers >= 1)
      mix: [{path: general.jsonl, ratio: 0.2, by: tokens}]
      export: {formats: [openai, sharegpt]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from webtune.configbase import RelPath, StrictModel
# The cost estimate's default hosted model: one not scheduled to shut down (prices in
# webtune.dataset.validate.DEFAULT_PRICES).
from webtune.hosted.sunset import DEFAULT_HOSTED_MODEL


# A question heading is the question; another heading is asked about under the document title.
DEFAULT_QA_USER = (
    "{% if heading.endswith('?') %}{{ heading }}"
    "{% elif title and title != heading %}{{ title }}: {{ heading }}{% else %}{{ heading }}{% endif %}"
    "{% if parts > 1 %} (part {{ part }} of {{ parts }}){% endif %}"
)

DEFAULT_TEACHER_SYSTEM = (
    "You write training data for a language model. You answer with JSON only, no prose, "
    "no code fences."
)
DEFAULT_TEACHER_QA_PROMPT = (
    "Read the passage below and write {{ n }} question-and-answer pairs that someone might ask "
    "about it. Every answer must be fully supported by the passage.\n"
    'Reply with JSON of exactly this shape: {"pairs": [{"question": "...", "answer": "..."}]}\n\n'
    "{% if title %}Title: {{ title }}\n{% endif %}{% if heading %}Section: {{ heading }}\n{% endif %}"
    "Passage:\n{{ chunk }}"
)
DEFAULT_TEACHER_REWRITE_PROMPT = (
    "Rewrite the answer to the request below so that it is clear, accurate and well written. "
    "Keep every fact; add none.\n"
    'Reply with JSON of exactly this shape: {"answer": "..."}\n\n'
    "Request:\n{{ user }}\n\nCurrent answer:\n{{ assistant }}"
)


def _compile(source: str | None) -> str | None:
    """Check that ``source`` is a valid Jinja template; raise ValueError with Jinja's message."""
    if source is None:
        return None
    from webtune.dataset.templates import compile_template

    compile_template(source)
    return source


class Selector(StrictModel):
    """Which documents a generator applies to: source patterns and a Jinja condition."""

    # fnmatch patterns matched against a document's source kind and source uri; empty: all.
    sources: list[str] = []
    # A Jinja expression over the template context, e.g. "meta.lang == 'en'"; None: all.
    when: str | None = None

    @field_validator("when")
    @classmethod
    def _check_when(cls, value: str | None) -> str | None:
        if value is not None:
            from webtune.dataset.templates import compile_expression

            compile_expression(value)
        return value


class MessageTemplate(StrictModel):
    """One turn of a multi-turn template."""

    role: Literal["system", "user", "assistant"]
    content: str

    @field_validator("content")
    @classmethod
    def _check_templates(cls, value: str | None) -> str | None:
        return _compile(value)


class TemplateConfig(Selector):
    """Jinja templates over a document's fields that render one chat example.

    Either ``user`` + ``assistant`` (and an optional ``system``), or ``messages`` for a
    multi-turn example. ``requires`` lists fields that must be present and non-empty.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    requires: list[str] = []
    system: str | None = None
    user: str | None = None
    assistant: str | None = None
    messages: list[MessageTemplate] = []

    @field_validator("system", "user", "assistant")
    @classmethod
    def _check_templates(cls, value: str | None) -> str | None:
        return _compile(value)

    @model_validator(mode="after")
    def _one_shape(self) -> "TemplateConfig":
        if self.messages and (self.user or self.assistant or self.system):
            raise ValueError("give either messages or system/user/assistant, not both")
        if not self.messages and not (self.user and self.assistant):
            raise ValueError("a template needs user and assistant (or a messages list)")
        if self.messages:
            from webtune.dataset.validate import role_order_errors

            problems = role_order_errors([m.role for m in self.messages])
            if problems:
                raise ValueError(f"{problems[0][0]}: {problems[0][1]}")
        return self

    def turns(self) -> list[tuple[str, str]]:
        """The (role, template source) pairs of this template, in order."""
        if self.messages:
            return [(m.role, m.content) for m in self.messages]
        turns = [("system", self.system)] if self.system else []
        return turns + [("user", self.user or ""), ("assistant", self.assistant or "")]


class ChunkingConfig(StrictModel):
    """How long Markdown sections are cut: by tokens of the base model, with overlap."""

    chunk_tokens: int = Field(default=384, ge=16)
    overlap_tokens: int = Field(default=48, ge=0)

    @model_validator(mode="after")
    def _overlap_smaller(self) -> "ChunkingConfig":
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError("overlap_tokens must be smaller than chunk_tokens")
        return self


class QAConfig(Selector):
    """Q&A from Markdown: each heading with its section becomes a question and its answer."""

    field: str = "text"  # the context key holding Markdown (a field name or "text")
    system: str | None = None
    user: str = DEFAULT_QA_USER
    min_answer_words: int = Field(default=3, ge=0)
    questions_only: bool = False  # only headings that end with "?"
    max_heading_level: int = Field(default=6, ge=1, le=6)

    @field_validator("system", "user")
    @classmethod
    def _check_templates(cls, value: str | None) -> str | None:
        return _compile(value)


class TeacherEndpoint(Selector):
    """A teacher LLM behind any OpenAI-compatible chat endpoint: connection, sampling, cache, prices.

    Shared by the teacher generators (``teacher`` Q&A and rewrites, ``teacher_pairs``). The API
    key is read from the environment variable named by ``api_key_env`` and never written anywhere.
    """

    model: str
    base_url: str | None = None  # None: api.openai.com
    api_key_env: str = "OPENAI_API_KEY"
    system: str = DEFAULT_TEACHER_SYSTEM
    temperature: float = Field(default=0.2, ge=0, le=2)
    max_tokens: int = Field(default=1024, ge=1)
    json_mode: bool = False  # send response_format={"type": "json_object"}
    concurrency: int = Field(default=4, ge=1, le=64)
    max_retries: int = Field(default=5, ge=0)
    backoff_initial_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    timeout_s: float = Field(default=120.0, gt=0)
    cache_dir: RelPath | None = None  # None: <run>/.work/dataset/teacher-cache
    # USD per 1M tokens; None: webtune.dataset.teacher.TEACHER_PRICES when the model is listed.
    price_input_per_1m: float | None = Field(default=None, ge=0)
    price_output_per_1m: float | None = Field(default=None, ge=0)


class TeacherConfig(TeacherEndpoint):
    """The ``dataset.teacher`` section: a teacher that writes Q&A pairs or rewrites answers.

    ``mode: qa`` asks it for question/answer pairs from each Markdown chunk; ``mode: rewrite``
    asks it to rewrite the assistant message of template examples.
    """

    mode: Literal["qa", "rewrite"] = "qa"
    field: str = "text"  # qa mode: the context key holding Markdown
    templates: list[str] = []  # rewrite mode: which templates (empty: all)
    pairs_per_chunk: int = Field(default=3, ge=1, le=20)
    prompt: str | None = None  # default depends on mode
    example_system: str | None = None  # system message of the generated examples (qa mode)

    @field_validator("prompt", "example_system")
    @classmethod
    def _check_templates(cls, value: str | None) -> str | None:
        return _compile(value)

    def prompt_template(self) -> str:
        """The user prompt template, defaulting by mode."""
        if self.prompt:
            return self.prompt
        return DEFAULT_TEACHER_QA_PROMPT if self.mode == "qa" else DEFAULT_TEACHER_REWRITE_PROMPT


def _size(value: float) -> float:
    """A split size: a fraction in [0, 1) or a whole count >= 1."""
    if value < 0:
        raise ValueError("must not be negative")
    if value >= 1 and float(value) != int(value):
        raise ValueError("a size >= 1 is a count of examples and must be a whole number")
    return value


class SplitConfig(StrictModel):
    """Validation and test sizes, as fractions (< 1) or counts of examples (whole numbers >= 1).

    Examples are grouped by ``meta.cluster_id`` (from clean), falling back to the source
    document id, and groups are ordered by a hash seeded with ``seed`` (default: the
    pipeline's seed), so a group never straddles two splits and reruns are identical.
    """

    validation: float = 0.1
    test: float = 0.1
    seed: int | None = None

    @field_validator("validation", "test")
    @classmethod
    def _check_size(cls, value: float) -> float:
        return _size(value)

    @model_validator(mode="after")
    def _leaves_train(self) -> "SplitConfig":
        if self.validation < 1 and self.test < 1 and self.validation + self.test >= 1:
            raise ValueError("validation + test fractions must leave something for train")
        return self


class MixSource(StrictModel):
    """A general-purpose chat set mixed into the domain set.

    ``path``: a JSONL file, a Parquet file, or a Hugging Face dataset saved with
    ``save_to_disk``. Rows may be OpenAI chat (``messages``), ShareGPT (``conversations``) or
    Alpaca (``instruction``/``input``/``output``). ``ratio`` is this set's share of each split
    it goes into, counted in examples or tokens.
    """

    path: RelPath
    name: str | None = None
    ratio: float = Field(gt=0, lt=1)
    by: Literal["examples", "tokens"] = "examples"
    into: list[Literal["train", "validation", "test"]] = ["train"]
    hf_split: str = "train"  # which split of a saved DatasetDict

    def label(self) -> str:
        """The name shown in stats and example meta."""
        return self.name or Path(self.path).stem


class ExportConfig(StrictModel):
    """Extra copies of the splits in other formats, under ``<dataset>/export/<format>/``.

    The splits themselves (``train.jsonl`` ...) are always OpenAI chat JSONL with ``meta``;
    ``openai`` writes messages-only files, ready to upload to a hosted API, and the preference
    splits in OpenAI's preference format (``input``, ``preferred_output``,
    ``non_preferred_output``; pairs only); ``trl`` writes what TRL's trainers read: ``messages``
    for supervised data, ``prompt``/``chosen``/``rejected`` (DPO, ORPO) and
    ``prompt``/``completion``/``label`` (KTO), conversational.
    """

    formats: list[Literal["openai", "sharegpt", "alpaca", "hf", "parquet", "trl"]] = ["openai"]


class HostedCostConfig(StrictModel):
    """What the cost estimate assumes: a hosted model, epochs, and optional price overrides."""

    model: str = DEFAULT_HOSTED_MODEL
    epochs: float = Field(default=3, gt=0)
    prices: dict[str, float] = {}  # model -> USD per 1M training tokens


class DatasetConfig(StrictModel):
    """The ``dataset`` section of a pipeline."""

    templates: list[TemplateConfig] = []
    qa: QAConfig | None = None
    teacher: TeacherConfig | None = None
    # Any registered generator (built-in or plugin) by name: [{generator: NAME, ...its config}].
    generators: list[dict[str, Any]] = []
    chunking: ChunkingConfig = ChunkingConfig()
    split: SplitConfig = SplitConfig()
    mix: list[MixSource] = []
    export: ExportConfig = ExportConfig()
    # Longest example in tokens (chat template included); None: the tokenizer's max length.
    max_tokens: int | None = Field(default=None, ge=8)
    overflow: Literal["reject", "truncate"] = "reject"
    min_examples: int = Field(default=10, ge=1)  # fewer train examples is an error
    warn_examples: int = Field(default=50, ge=1)  # fewer is a warning
    dedup: bool = True  # reject exact duplicate examples
    hosted: HostedCostConfig = HostedCostConfig()

    @field_validator("generators")
    @classmethod
    def _known_generators(cls, entries: list[dict[str, Any]], info: ValidationInfo) -> list[dict[str, Any]]:
        """Each entry validated by its generator's Config (paths resolved against the pipeline file)."""
        from pydantic import ValidationError

        from webtune.dataset.generators import GENERATORS
        from webtune.errors import ConfigError

        checked = []
        for i, entry in enumerate(entries):
            name = entry.get("generator")
            if not isinstance(name, str):
                raise ValueError(f"{i}: give the generator's name as 'generator: NAME'")
            if name == "mix":
                raise ValueError(f"{i}: general sets are mixed in with dataset.mix, not as a generator")
            try:  # the class only: validating a file needs no extra (running the generator may)
                generator = GENERATORS.backend(name)
            except ConfigError as exc:
                raise ValueError(f"{i}: {exc}") from None
            settings = {k: v for k, v in entry.items() if k != "generator"}
            try:
                config = generator.Config.model_validate(settings, context=info.context)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                raise ValueError(f"{i} ({name}): {where + ': ' if where else ''}{err['msg']}") from None
            # kept as plain data (the fingerprint's), resolved: the stage builds the config again
            checked.append({"generator": name, **config.model_dump(mode="json")})
        return checked

    @model_validator(mode="after")
    def _unique_names(self) -> "DatasetConfig":
        names = [t.name for t in self.templates]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"template names must be unique: {', '.join(dupes)}")
        if self.teacher and self.teacher.mode == "rewrite":
            unknown = sorted(set(self.teacher.templates) - set(names))
            if unknown:
                raise ValueError(f"teacher.templates names unknown templates: {', '.join(unknown)}")
            if not self.templates:
                raise ValueError("teacher mode 'rewrite' needs templates to rewrite")
        for split in ("train", "validation", "test"):
            if sum(m.ratio for m in self.mix if split in m.into) >= 1:
                raise ValueError(f"mix: the ratios of the general sets mixed into {split} must sum to less than 1")
        return self

    def input_paths(self) -> list[Path]:
        """Local files the stage reads besides clean's output (the mixed-in general sets)."""
        return [Path(m.path) for m in self.mix]
