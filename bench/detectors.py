"""Detector benchmark: Veille's pipeline against a plain Presidio + VADER baseline, same corpus.

    .venv/bin/python bench/detectors.py [--posts 20000] [--baseline-posts 2000] [--seed 7]

Corpus: ``monitor.traffic.generate_posts(posts, seed)`` (EN/FR, internal/external, a few percent
with PII or breaches). Baseline: Presidio's ``BatchAnalyzerEngine`` over an ``AnalyzerEngine`` with
the full spaCy sm pipelines (en, fr), the same recognizers Veille uses (Presidio's and Veille's
French ones, phone regions = every region Veille's configuration uses) and the same entities, plus
VADER (French VADER for French posts) per post. The baseline runs on the first ``--baseline-posts``
posts only (it is slow; its posts/s is what is compared); Veille runs on all of them.
Veille is measured in plan mode (default policy packs: NER only where a rule still needs it) and
all mode (every detector, entity and pattern on every post), in 1 and 2 processes. Model loading
and a warm-up batch are excluded from every timing (workers load once and run for days).
Last line: ``ratio=<plan, 2 processes ÷ baseline> ratio_all=<all, 2 processes ÷ baseline> lost=<n>``
where lost counts baseline PII findings with no Veille all-mode finding of the same entity
overlapping it in the same post.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
# Run as a script, this file's folder comes first on sys.path and its name would hide the
# `detectors` package: put the repository root there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE), *(p for p in sys.path if os.path.abspath(p or ".") != _HERE)]

BATCH = 500  # posts per detect call, as the baseline has always been measured
Key = tuple[str, str, int, int]  # post id, entity, start, end


def corpus(count: int, seed: int) -> list[Any]:
    from monitor.traffic import generate_posts

    return list(generate_posts(count, seed))


# --- baseline -----------------------------------------------------------------------------------


def build_baseline() -> tuple[Any, Any, dict[str, Any]]:
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    import detectors._presidio  # noqa: F401  (offline-safe import)
    from detectors.catalogue import NER_ENTITIES, PATTERN_PII_ENTITIES
    from detectors.config import DetectorConfig
    from detectors.ner import resolve_model
    from detectors.pii import build_recognizers
    from detectors.sentiment import _load

    config = DetectorConfig()
    regions = tuple(
        dict.fromkeys(
            [*config.default_phone_regions, *(r for rs in config.phone_regions.values() for r in rs)]
        )
    )
    models = [
        {"lang_code": lang, "model_name": resolve_model(lang, name)}
        for lang, name in config.spacy_models.items()
    ]
    nlp_engine = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": models}
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=list(config.spacy_models))
    for lang in config.spacy_models:
        for recognizer in build_recognizers(PATTERN_PII_ENTITIES, regions):
            recognizer.supported_language = lang
            registry.add_recognizer(recognizer)
        registry.add_recognizer(
            SpacyRecognizer(supported_language=lang, supported_entities=sorted(NER_ENTITIES))
        )
    analyzer = AnalyzerEngine(
        registry=registry, nlp_engine=nlp_engine, supported_languages=list(config.spacy_models)
    )
    return BatchAnalyzerEngine(analyzer_engine=analyzer), config, {lang: _load(lang) for lang in ("en", "fr")}


def run_baseline(posts: Sequence[Any]) -> tuple[float, set[Key]]:
    from detectors.catalogue import PII_ENTITIES
    from detectors.language import LanguageDetector

    batch, config, vader = build_baseline()
    languages = LanguageDetector(config.languages, config.language_min_confidence)
    entities = sorted(PII_ENTITIES)
    for lang in ("en", "fr"):  # warm-up: first calls load lazily
        list(batch.analyze_iterator(["warm up John Smith 06 12 34 56 78"], language=lang, entities=entities))
    languages.detect("warm up the detector please")
    started = time.perf_counter()
    by_lang: dict[str, list[Any]] = {}
    for post in posts:
        lang = languages.language_of(post)
        if lang in config.spacy_models:
            by_lang.setdefault(lang, []).append(post)
    found: set[Key] = set()
    for lang, group in by_lang.items():
        texts = [post.text for post in group]
        results = batch.analyze_iterator(texts, language=lang, entities=entities, batch_size=64)
        for post, post_results in zip(group, results, strict=True):
            for result in post_results:
                found.add((post.id, result.entity_type, result.start, result.end))
            vader[lang].polarity_scores(post.text)
    return time.perf_counter() - started, found


# --- Veille -------------------------------------------------------------------------------------


Job = tuple[int, int, int, int, bool, Any, bool, bool]


def _veille_worker(args: Job) -> tuple[float, list[Key], int]:
    count, seed, part, parts, detect_all, barrier, collect, ner_ignore = args
    from detectors.config import DetectorConfig
    from detectors.registry import build_detectors
    from monitor.pipeline import build_pipeline
    from monitor.settings import Settings

    posts = corpus(count, seed)[part::parts]
    pipeline = build_pipeline(Settings(), detect_all=detect_all)
    if not ner_ignore:
        pipeline.detectors = build_detectors(DetectorConfig(ner_ignore={}))
    pipeline.process(corpus(200, seed + 1))  # loads models and plans, outside the timing
    if barrier is not None:
        barrier.wait()
    started = time.perf_counter()
    results = []
    for offset in range(0, len(posts), BATCH):
        results.extend(pipeline.process(posts[offset : offset + BATCH]))
    elapsed = time.perf_counter() - started
    keys: list[Key] = []
    findings = 0
    for result in results:
        findings += len(result.findings)
        if collect:
            keys.extend(
                (result.post.id, f.type, f.start, f.end) for f in result.findings if f.detector == "pii"
            )
    return elapsed, keys, findings


def run_veille(
    count: int, seed: int, detect_all: bool, processes: int, collect: bool, ner_ignore: bool
) -> tuple[float, list[Key], int]:
    if processes == 1:
        return _veille_worker((count, seed, 0, 1, detect_all, None, collect, ner_ignore))
    context = mp.get_context("fork")
    with context.Manager() as manager:
        barrier = manager.Barrier(processes)
        with context.Pool(processes) as pool:
            outcomes = pool.map(
                _veille_worker,
                [
                    (count, seed, part, processes, detect_all, barrier, collect, ner_ignore)
                    for part in range(processes)
                ],
            )
    return (
        max(elapsed for elapsed, _, _ in outcomes),
        [key for _, keys, _ in outcomes for key in keys],
        sum(n for _, _, n in outcomes),
    )


def _overlaps(key: Key, candidates: dict[tuple[str, str], list[tuple[int, int]]]) -> bool:
    return any(start < key[3] and key[2] < end for start, end in candidates.get((key[0], key[1]), ()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--baseline-posts", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-ner-ignore",
        action="store_true",
        help="turn off DetectorConfig.ner_ignore (greetings the French model calls names or places), "
        "to compare with Presidio finding for finding",
    )
    args = parser.parse_args(argv)
    if not 0 < args.baseline_posts <= args.posts:
        parser.error("--baseline-posts must be between 1 and --posts")

    posts = corpus(args.posts, args.seed)
    kinds = Counter(post.metadata.get("sample_kind", "?") for post in posts)
    langs = Counter(post.lang or "undeclared" for post in posts)
    print(
        f"corpus: {len(posts)} posts, seed {args.seed}; lang {dict(langs)}; "
        f"with PII/breach {sum(n for k, n in kinds.items() if k != 'benign')}"
    )

    base_posts = posts[: args.baseline_posts]
    base_seconds, base_found = run_baseline(base_posts)
    base_rate = len(base_posts) / base_seconds
    print(
        f"baseline (Presidio BatchAnalyzerEngine + VADER), {len(base_posts)} posts: "
        f"{base_rate:,.0f} posts/s, "
        f"{len(base_found)} PII findings"
    )

    rates: dict[tuple[str, int], float] = {}
    all_keys: list[Key] = []
    for mode, detect_all in (("plan", False), ("all", True)):
        for processes in (1, 2):
            collect = detect_all and processes == 1
            seconds, keys, total = run_veille(
                args.posts, args.seed, detect_all, processes, collect, not args.no_ner_ignore
            )
            rates[(mode, processes)] = args.posts / seconds
            if collect:
                all_keys = keys
            print(
                f"veille {mode} mode, {processes} process(es): {rates[(mode, processes)]:,.0f} posts/s "
                f"({total} findings, all detectors)"
            )

    base_ids = {post.id for post in base_posts}
    veille_found = {key for key in all_keys if key[0] in base_ids}
    index: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for key in veille_found:
        index.setdefault((key[0], key[1]), []).append((key[2], key[3]))
    base_index: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for key in base_found:
        base_index.setdefault((key[0], key[1]), []).append((key[2], key[3]))
    lost = [key for key in base_found if not _overlaps(key, index)]
    extra = [key for key in veille_found if not _overlaps(key, base_index)]
    print(
        f"on the baseline's {len(base_posts)} posts: baseline {len(base_found)} PII findings, "
        f"Veille all mode {len(veille_found)}"
    )
    print(f"  baseline findings Veille lacks: {len(lost)} {dict(Counter(key[1] for key in lost))}")
    print(f"  Veille findings the baseline lacks: {len(extra)} {dict(Counter(key[1] for key in extra))}")
    from detectors.config import DetectorConfig

    ignored = {word for words in DetectorConfig().ner_ignore.values() for word in words}
    texts = {post.id: post.text for post in base_posts}
    on_purpose = [k for k in lost if texts[k[0]][k[2] : k[3]].split()[0].casefold() in ignored]
    if on_purpose and not args.no_ner_ignore:
        print(
            f"  of which suppressed on purpose by DetectorConfig.ner_ignore: {len(on_purpose)} "
            f"{dict(Counter(texts[k[0]][k[2] : k[3]] for k in on_purpose))} (see --no-ner-ignore)"
        )
    for key in [k for k in lost if k not in on_purpose][:10]:
        print(f"    lost {key[1]} {texts[key[0]][key[2] : key[3]]!r} in {key[0]}")
    ratio = rates[("plan", 2)] / base_rate
    ratio_all = rates[("all", 2)] / base_rate
    print(f"ratio={ratio:.1f} ratio_all={ratio_all:.1f} lost={len(lost)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
