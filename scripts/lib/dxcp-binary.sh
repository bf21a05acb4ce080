# Sourced by the scripts that drive a real `dxcp serve`: resolves the binary
# to run into $binary: the first argument, else the debug build `cargo test`
# leaves in $CARGO_TARGET_DIR, built here with the same profile if missing.
# Expects $root (the repository) to be set.
target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/dxcp-target}"
binary="${1:-$target_dir/debug/dxcp}"
if [ ! -x "$binary" ]; then
  (cd "$root" && CARGO_TARGET_DIR="$target_dir" cargo build --bin dxcp)
fi
