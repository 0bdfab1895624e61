#!/usr/bin/env bash
# Seeds every fuzz target's corpus (fuzz/corpus/<target>/) from testdata/ and fuzz/seeds/:
# real attestation chains and layouts rewritten as templates (digests as tokens, see
# fuzz/src/lib.rs), LLB definitions encoded by hand the way BuildKit marshals them, git
# objects with their keys, policies with the files beside them, and image references from
# the Dockerfiles. Idempotent; the corpus directory is not committed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python3 "$here/seed.py" "$here"
