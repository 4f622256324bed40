"""`veille ingest`: platform exports and live sources turned into Post records, with reconciliation.

Each format module reads one platform's *documented* format (field names and nesting of its export or
API) and yields, record by record, either a ``Post`` or a ``Skipped`` naming why it was left out. The
shared pieces are split by concept:

- ``base``: the run's context, what readers yield, stable platform-prefixed ids, timestamps, JSON files;
- ``people``: the directory of people (employee flag, role, country) and employee e-mail domains;
- ``html_text``: HTML bodies (Teams, Mastodon, feeds) to plain text and links;
- ``manifest``: counting what was read, produced and skipped, and the reconciliation manifest;
- ``follow``: polling live sources over HTTP with saved state, back-off and ``Retry-After``;
- ``run``: one pass from a reader to a JSONL file or to the input topics;
- ``cli``: the ``veille ingest`` command.
"""
