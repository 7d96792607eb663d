"""clean: extraction, normalisation, quality filters, PII redaction and deduplication.

The stage (`webtune.clean.stage.run_clean`) runs the configured steps in order; each
step is a class in ``webtune/clean/steps/`` registered by name in ``STEPS``:

======================  =====================================================================
html_to_text            main text of pages (trafilatura, fallbacks, boilerplate trim); HTML in fields
structured              schema.org / OpenGraph data of pages -> product fields; page type
normalize               ftfy, Unicode NFC, control characters, whitespace, repeated lines
boilerplate             lines repeated across many documents (global)
field_presence          required fields of structured records
length                  words / characters of the text or a field
language                lingua, restricted to candidate languages; keep a list
gopher_quality          Gopher quality rules (datatrove defaults)
gopher_repetition       Gopher repetition rules (datatrove defaults)
c4                      C4 line rules (datatrove defaults)
fineweb                 FineWeb rules (datatrove defaults)
url                     domain allow / block lists, URL patterns
regex                   custom patterns: drop, keep or strip
pii                     typed placeholders for emails, phones, IPs, cards, IBANs, secrets
dedup                   exact + MinHash LSH near-duplicates (global); cluster ids
======================  =====================================================================

Every dropped document goes to ``rejects.jsonl`` with the step, a reason code, the
measured value and the threshold; ``webtune clean --explain ID`` reads them back.
"""
