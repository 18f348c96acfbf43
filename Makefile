# livestream — see README.md. `make run` and `make test` install what they
# need through `make deps` (Debian/Ubuntu packages).

GO        ?= go
BIN       := bin/livestream
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# Packages without cgo hot loops: run under the race detector.
RACE_PKGS := ./media/... ./hlsmux/... ./internal/...
FUZZTIME  ?= 5s

APT_PKGS := libavcodec-dev libavformat-dev libavfilter-dev libswscale-dev \
	libswresample-dev libavutil-dev libavdevice-dev libx264-dev pkg-config ffmpeg
# The pkg-config names of what the build links (libx264-dev's is "x264").
PC_MODS  := libavcodec libavformat libavfilter libswscale libswresample libavutil x264
SUDO     := $(shell [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null && echo sudo)

.PHONY: all deps build run test test-unit test-race fuzz bench clean

all: build

deps:
	@if ! pkg-config --exists $(PC_MODS) 2>/dev/null || ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then \
		echo "installing build and test dependencies: $(APT_PKGS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PKGS); \
	fi

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/livestream

# Until the live server lands, `make run` transcodes a generated sample.
run: build
	@mkdir -p data
	@[ -s data/sample.flv ] || ffmpeg -hide_banner -loglevel error -nostdin -y \
		-f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
		-t 20 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ac 2 -f flv data/sample.flv
	$(BIN) transcode data/sample.flv data/out
	@echo "ladder written to data/out: play data/out/live.m3u8 with any HLS player (ffplay data/out/live.m3u8)"

test: deps
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 3x -count 3 ./bench/...
	bash bench/compare.sh

clean:
	rm -rf bin data/out
