#!/usr/bin/env bash
# The SIGKILL durability test as a soak: TRIALS (default 100) kills of the real binary in
# the middle of concurrent whole and chunked uploads, each followed by a restart on the
# same data dir; every answered token must then download byte-identical, and nothing
# half-written may survive. The test command runs the same test with 20 trials.
#   scripts/crash-soak.sh [TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
FEISHU_MEDIA_CRASH_TRIALS=${1:-100} cargo test --locked -p feishu-media --test crash -- --nocapture
