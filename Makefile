# livestream — see README.md.
#
#   make run     build, then start the all-in-one server (livestream serve)
#   make sample  build, then transcode a generated sample into data/out
#   make test    gofmt, vet, tests, race tests, a short fuzz run
#   make bench   Go benchmarks and the side-by-side run against the ffmpeg CLI
#
# `run`, `build` and `test` install what they need first (`make deps`:
# Debian/Ubuntu packages through apt-get, as root or through sudo).

GO      ?= go
BIN     := bin/livestream
# Overridable on the command line: make build VERSION=1.2.3 (the Docker
# build does that, as it has no .git).
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Packages without cgo hot loops, run under the race detector (only: see
# scripts/test.sh). The race detector slows FFmpeg's callers (codec,
# pipeline) too much to be worth it on every run.
RACE_PKGS ?= ./media/... ./hlsmux/... ./internal/... ./live/... ./registry/... ./origin/... ./ingest/... ./relay/... ./record/... ./proxy/... ./tlsfile/... ./door/...
# Packages searched for fuzz targets, and how long each target runs.
FUZZ_PKGS ?= ./...
FUZZTIME  ?= 2s
# make bench: iterations per benchmark and repetitions (for benchstat).
BENCHTIME  ?= 3x
BENCHCOUNT ?= 3

# `make run` starts the all-in-one server with its data (channels, admin
# token) in ./data. `make sample` transcodes a generated file instead.
DATA_DIR := data
RUN_ARGS ?= serve --data-dir $(DATA_DIR)
SAMPLE   := $(DATA_DIR)/sample.flv
OUT      := $(DATA_DIR)/out

# Debian/Ubuntu packages the build and the tests need, and the pkg-config
# modules that prove the -dev ones are there (libx264-dev's module is "x264").
BUILD_PKGS := libavcodec-dev libavformat-dev libavfilter-dev libswscale-dev \
	libswresample-dev libavutil-dev libavdevice-dev libx264-dev pkg-config
# The tests also drive the ffmpeg/ffprobe CLI, a headless Chromium, nginx with
# its RTMP module (a stand-in relay destination) and Redis (the cluster's
# registry).
TEST_PKGS  := ffmpeg chromium nginx libnginx-mod-rtmp redis-server gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
# The S3-compatible server the recording tests store to, built from its Go
# module into $(go env GOPATH)/bin, where the tests look for it.
VERSITYGW  := github.com/versity/versitygw/cmd/versitygw@v1.8.0
TEST_TOOLS := ffmpeg ffprobe chromium nginx redis-server gst-launch-1.0
PC_MODS    := libavcodec libavformat libavfilter libswscale libswresample libavutil x264
SUDO       := $(shell [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && echo sudo)

.PHONY: all deps deps-build build run sample test fuzz bench clean

all: build

# install PACKAGES when CHECK fails.
define apt_install
	@if ! { $(2); }; then \
		command -v apt-get >/dev/null || { echo "make deps: no apt-get; install by hand: $(1)"; exit 1; }; \
		[ "$$(id -u)" = 0 ] || [ -n "$(SUDO)" ] || { echo "make deps: run as root or install sudo to install: $(1)"; exit 1; }; \
		echo "make deps: installing $(1)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1) >/dev/null; \
	fi
endef

# What the build needs: FFmpeg 5.1's and libx264's development packages.
deps-build:
	$(call apt_install,$(BUILD_PKGS),pkg-config --exists $(PC_MODS) 2>/dev/null)
	@pkg-config --exists --print-errors $(PC_MODS)
	@pkg-config --exists 'libavcodec >= 59' 'libavcodec < 60' || { \
		echo "make deps: livestream links FFmpeg 5.1 (libavcodec 59, through go-astiav v0.16), but this machine has libavcodec $$(pkg-config --modversion libavcodec): build on Debian 12 (bookworm) or with Dockerfile.build"; exit 1; }

# What the build and the tests need.
deps: deps-build
	$(call apt_install,$(TEST_PKGS),$(foreach t,$(TEST_TOOLS),command -v $(t) >/dev/null &&) test -e /usr/lib/nginx/modules/ngx_rtmp_module.so)
	@command -v versitygw >/dev/null || test -x "$$($(GO) env GOPATH)/bin/versitygw" || { \
		echo "make deps: installing versitygw (go install $(VERSITYGW))"; $(GO) install $(VERSITYGW); }

build: deps-build
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/livestream

# Until the live server lands, `make run` transcodes a generated sample.
run: build
	@echo "Create a channel in another terminal:  $(BIN) keys create \"my channel\" --data-dir $(DATA_DIR)"
	@echo "then publish to the URL it prints (OBS, or ffmpeg -re -i FILE -c copy -f flv rtmp://localhost:1935/stream/KEY)"
	@echo "and watch at http://localhost:8080/watch/PLAYBACK_ID. Ctrl-C stops the server."
	$(BIN) $(RUN_ARGS)

# Transcode a generated 20 s sample into $(OUT) (no server needed).
sample: build $(SAMPLE)
	@rm -rf $(OUT)
	$(BIN) transcode $(SAMPLE) $(OUT)
	@echo "The HLS ladder is in $(OUT)/: play it with ffplay $(OUT)/live.m3u8 (or VLC, Safari, hls.js)."

# A 20 s 720p30 sample with a 440 Hz tone, written under a temporary name so
# an interrupted run leaves no half file behind.
$(SAMPLE): | deps
	@mkdir -p $(@D)
	ffmpeg -hide_banner -loglevel error -nostdin -y \
		-f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
		-t 20 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ac 2 -f flv $@.tmp
	@mv $@.tmp $@

test: deps
	@echo "$$($(GO) version); libavcodec $$(pkg-config --modversion libavcodec), x264 $$(pkg-config --modversion x264); $$(ffmpeg -hide_banner -version | head -n1)"
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*')); \
		if [ -n "$$unformatted" ]; then echo "gofmt -l lists files to format:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GO=$(GO) RACE_PKGS="$(RACE_PKGS)" FUZZ_PKGS="$(FUZZ_PKGS)" FUZZTIME=$(FUZZTIME) bash scripts/test.sh

# A longer fuzz run on its own: make fuzz FUZZTIME=2m
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh $(FUZZ_PKGS)

bench: deps build
	$(GO) test -run='^$$' -bench=. -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) -timeout 60m ./bench/...
	bash bench/compare.sh
	bash bench/live.sh

clean:
	rm -rf bin data
