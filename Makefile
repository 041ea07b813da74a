# Every target installs what it needs into .venv first; each step is idempotent (stamp files).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   := torch==2.13.0
export OMP_NUM_THREADS ?= 2

.PHONY: install serve test test-slow lint proto bench demo-train l10n docker docker-offline docker-check clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first and pinned, so no later resolver step can swap in a multi-GB CUDA build.
$(VENV)/.stamp-all: pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[serve,export,train,dev]' $(TORCH)
	$(BIN)/pip install -q -e clients/python
	touch $@

# Debian data packages the training data and tests read (WordNet 3.0).
$(VENV)/.stamp-system:
	@if [ ! -f /usr/share/wordnet/data.noun ] && [ ! -f /usr/share/wordnet/dict/data.noun ]; then \
	  (apt-get update -q && apt-get install -y -q wordnet-base) || \
	  (sudo apt-get update -q && sudo apt-get install -y -q wordnet-base); fi
	@mkdir -p $(VENV) && touch $@

install: $(VENV)/.stamp-all $(VENV)/.stamp-system

# More parallel UI text for `lexsent data parallel` (training side only): the .mo files of Debian's
# libreoffice-l10n-* packages, downloaded and unpacked into .l10n/ (no root, LibreOffice not installed).
L10N_LANGS := ar de es fr it ja pl pt-br ru tr uk zh-cn
.l10n/.stamp:
	mkdir -p .l10n/debs
	cd .l10n/debs && (apt-get download $(addprefix libreoffice-l10n-,$(L10N_LANGS)) || \
	  (apt-get update -q && apt-get download $(addprefix libreoffice-l10n-,$(L10N_LANGS))))
	for deb in .l10n/debs/*.deb; do dpkg-deb -x $$deb .l10n; done
	touch $@

l10n: .l10n/.stamp

serve: install
	$(BIN)/lexsent serve

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

# ruff; mypy strict on lexsent/ and server/ (root config), then on the client package (clients/python's own).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lexsent server exporter training cli bench tests docker clients proto
	$(BIN)/mypy
	cd clients/python && $(CURDIR)/$(BIN)/mypy

# Stubs for every proto/lexsent/v1/*.proto into server/proto_gen and the client's proto_gen.
proto: install
	$(BIN)/python proto/build.py

bench: install
	$(BIN)/python -m bench.encode

# data -> MLM from scratch -> raw MLM bundle (the "before") -> MirrorBERT sentence + word bundles in models/;
# then all three are served side by side and each answers /v1/embeddings (training/demo_serve.py).
demo-train: install
	$(BIN)/lexsent data build --out data
	$(BIN)/lexsent train mlm --data-dir data --run-dir runs/mlm --out runs/mlm/model
	$(BIN)/lexsent export runs/mlm/model --out models/mlm-raw --name mlm-raw --max-length 64
	$(BIN)/lexsent eval models/mlm-raw --task definition_example --task paraphrase --record manifest
	$(BIN)/lexsent train mirror --model runs/mlm/model --mode sentence --name mirror-sentence
	$(BIN)/lexsent train mirror --model runs/mlm/model --mode word --name mirror-word
	$(BIN)/python -m training.demo_serve --models-dir models
	@echo "serve them: $(BIN)/lexsent serve --models-dir models"

# The container image. DOCKER_BUILD_ARGS, e.g. --build-arg PIP_EXTRA_INDEX_URL=<CPU torch index>.
# docker-offline: for a machine with PyPI and a Debian mirror but no registry (docs/server.md).
# docker-check: runs IMAGE and checks health, user, vectors, SIGTERM drain, /data and TLS (docker/check.py).
IMAGE ?= lexsent
docker:
	docker build $(DOCKER_BUILD_ARGS) -t $(IMAGE) .

docker-offline:
	sh docker/build-offline.sh $(IMAGE)

docker-check: install
	$(BIN)/python docker/check.py --image $(IMAGE)

clean:
	rm -rf $(VENV) build dist *.egg-info clients/python/build clients/python/*.egg-info
