# The two commands: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
SERVICES := scripts/services.sh

.PHONY: run test build install services-up services-down migrate

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

test: install
	@scripts/test.sh
