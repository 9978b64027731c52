# nlfp: the two commands a newcomer needs are `make run` and `make test`.
#
#   make run    install missing system packages, build (release), run the generative model on
#               configs/quickstart.toml (nlfp generate, 2 MPI ranks, about a minute): forward to
#               condensation, reverse from the asymptotic state, 10^4 samples, pictures
#   make test   same set-up, then the whole test suite (unit, integration, MPI launch tests)
#   make plot   PNG pictures of the run in OUT (heat map, radial profile, diagnostics panels;
#               for a generate run: of forward.csv and terminal.h5)
#   make study  the example condensation study configs/study.toml on NP ranks (runs/study/study.md)
#   make filter the density-filtering examples configs/filter_1d.toml and filter_2d.toml on NP
#               ranks (runs/filter_1d/filter.md, runs/filter_2d/filter.md and pictures)
#   make headline   issue 4 headline benchmark (implicit 2D n = 255 to t = 40 at 1 and 2 ranks)
#   make bench  kernel benchmarks (cargo bench: stage, particles) and the halo share at 2 ranks
#   make io-bench   checkpoint write rate (collective / independent) against a plain dd
#   make scaling    strong and weak scaling study, CSV + PNG
#   make slurm-up / slurm-down   a single-node Slurm for trying the batch scripts
#   make lint   rustfmt check and clippy with warnings as errors

SHELL := /bin/bash
NP ?= 2
CONFIG ?= configs/quickstart.toml
OUT ?= runs/quickstart
export PATH := $(HOME)/.cargo/bin:$(PATH)
# OpenMPI: allow root (containers, CI), more ranks than cores, and ROMIO for parallel HDF5.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
export OMPI_MCA_io := ^ompio
export OMPI_MCA_btl_vader_single_copy_mechanism := none

.PHONY: setup build run plot study filter headline test bench lint clean slurm-up slurm-down scaling io-bench

setup:
	@bash scripts/setup.sh

build: setup
	cargo build --release

run: build
	mpirun -n $(NP) target/release/nlfp generate $(CONFIG) --out $(OUT) --overwrite
	@echo "results in $(OUT)/: generate.png (data, condensed state, reconstruction), samples.png,"
	@echo "  samples.h5 / samples.csv (generated samples), summary.toml (errors, sample quality)"

plot: build
	@if [ -f $(OUT)/forward.csv ]; then \
		target/release/nlfp plot $(OUT)/forward.csv && target/release/nlfp plot $(OUT)/terminal.h5; \
	else \
		target/release/nlfp plot $(OUT); \
	fi

study: build
	mpirun -n $(NP) target/release/nlfp study configs/study.toml --out runs/study --overwrite

filter: build
	mpirun -n $(NP) target/release/nlfp filter configs/filter_1d.toml --out runs/filter_1d --overwrite
	mpirun -n $(NP) target/release/nlfp filter configs/filter_2d.toml --out runs/filter_2d --overwrite

headline: build
	bash benches/headline.sh runs/headline

test: setup
	cargo test --profile ci --lib --bins --tests -- --test-threads=2

bench: build
	cargo bench --bench stage
	cargo bench --bench particles
	bash benches/halo_share.sh

io-bench: build
	bash benches/checkpoint_io.sh

# A single-node Slurm on this machine (installs slurm-wlm and munge when absent).
slurm-up:
	bash scripts/slurm-local.sh start

slurm-down:
	bash scripts/slurm-local.sh stop

# Strong and weak scaling over 1..NP ranks: runs/scaling/scaling.csv and scaling.png.
scaling: build
	bash jobs/scaling.sh $(NP) runs/scaling

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

clean:
	cargo clean
	rm -rf runs
