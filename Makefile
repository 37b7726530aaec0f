# The two commands: `make run` and `make test`; `make cluster` runs several nodes behind HAProxy.
SHELL := /bin/bash
SERVICES := scripts/services.sh

.PHONY: run test build install services-up services-down migrate cluster cluster-down

install:
	@$(SERVICES) install

build: install
	swift build

services-up: build
	@$(SERVICES) up

services-down:
	@$(SERVICES) down

migrate: services-up
	source .local/env && "$$(swift build --show-bin-path)/ledger" migrate

run: migrate
	source .local/env && exec "$$(swift build --show-bin-path)/ledger" serve --demo

# NODES ledger nodes behind HAProxy on :8080 (scripts/cluster.sh); `make cluster-down` stops them.
NODES ?= 3
cluster: install
	@scripts/cluster.sh up --nodes $(NODES)

cluster-down:
	@scripts/cluster.sh down

test: install
	@scripts/test.sh
