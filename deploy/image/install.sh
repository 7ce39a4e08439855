#!/bin/sh
# Installs the four services and their libraries, and nothing for local development (no
# embedded broker or database, no test tools), from the locked versions into the environment
# named by $1. The Dockerfile runs this; so does a test, into a temporary folder. The
# platform's own packages are always rebuilt from the sources at hand, never from a cache.
set -eu
target="$1"
own="dialog-schemas dialogkit consentledger dialog-consent dialog-contacts dialog-interactions dialog-campaigns"
refresh=""
for package in $own; do refresh="$refresh --refresh-package $package"; done
# shellcheck disable=SC2086
UV_PROJECT_ENVIRONMENT="$target" "${UV:-uv}" sync --frozen --no-dev --no-editable $refresh \
  --package dialog-consent --package dialog-contacts \
  --package dialog-interactions --package dialog-campaigns
