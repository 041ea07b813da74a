"""A model bundle on disk: `model.onnx` + `tokenizer.json` + `lexsent.json`, verified on load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lexsent.errors import BundleError
from lexsent.fingerprint import fingerprint_files
from lexsent.manifest import MODEL_FILE, TOKENIZER_FILE, Manifest


@dataclass(frozen=True)
class Bundle:
    """A validated bundle directory. Construct with :meth:`open`."""

    path: Path
    manifest: Manifest

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def tokenizer_path(self) -> Path:
        return self.path / TOKENIZER_FILE

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def fingerprint(self) -> str:
        return self.manifest.fingerprint

    @classmethod
    def open(cls, path: str | Path, *, verify: bool = True) -> Bundle:
        """Open and check a bundle; `verify` re-hashes the files against the manifest fingerprint."""
        directory = Path(path)
        if not directory.is_dir():
            raise BundleError(f"{directory}: not a bundle directory (expected {MODEL_FILE}, {TOKENIZER_FILE})")
        for required in (MODEL_FILE, TOKENIZER_FILE):
            if not (directory / required).is_file():
                raise BundleError(f"{directory}: missing {required}")
        manifest = Manifest.read(directory)
        if verify:
            actual = fingerprint_files(directory / MODEL_FILE, directory / TOKENIZER_FILE)
            if actual != manifest.fingerprint:
                raise BundleError(
                    f"{directory}: fingerprint mismatch (manifest {manifest.fingerprint[:12]}…, "
                    f"files {actual[:12]}…): model or tokenizer changed after export"
                )
        return cls(path=directory, manifest=manifest)
