"""A tiny multi-way parallel corpus shaped like `lexsent data parallel` output (written, not built)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

WORDS = {
    "file": {"de": "Datei", "fr": "fichier"},
    "window": {"de": "Fenster", "fr": "fenêtre"},
    "server": {"de": "Server", "fr": "serveur"},
    "folder": {"de": "Ordner", "fr": "dossier"},
    "printer": {"de": "Drucker", "fr": "imprimante"},
    "user": {"de": "Benutzer", "fr": "utilisateur"},
}
VERBS = {
    "open the": {"de": "öffne die", "fr": "ouvrir le"},
    "close the": {"de": "schließe die", "fr": "fermer le"},
    "delete the": {"de": "lösche die", "fr": "supprimer le"},
    "copy the": {"de": "kopiere die", "fr": "copier le"},
}


def write_parallel(root: Path) -> Path:
    rows, test = [], {"de": [], "fr": []}
    for i, (verb, vt) in enumerate(VERBS.items()):
        for j, (noun, nt) in enumerate(WORDS.items()):
            english = f"{verb} {noun}"
            translations = {lang: [f"{vt[lang]} {nt[lang]}"] for lang in ("de", "fr")}
            if (i + j) % 5 == 0:
                for lang in test:
                    test[lang].append((english, translations[lang][0]))
            else:
                rows.append({"en": english, "translations": translations})
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    (root / "test").mkdir()
    for lang, pairs in test.items():
        (root / "test" / f"{lang}.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    return root


@pytest.fixture(scope="session")
def parallel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parallel(tmp_path_factory.mktemp("parallel"))
