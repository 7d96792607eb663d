"""Dataset generators: templates, Markdown Q&A, teacher Q&A, teacher rewrites and mixing.

Each lives in its own module behind the protocol of webtune.dataset.generators.base and is
registered by name in ``GENERATORS``; importing this package registers the built-ins.
"""

from webtune.dataset.generators.base import (  # noqa: F401
    GENERATORS, Batch, Candidate, DocItem, Generator, GeneratorEnv, base_meta, drop, make_reject,
)
from webtune.dataset.generators import markdown_qa, mixing, rewrite, teacher_qa, templates  # noqa: F401,E402
