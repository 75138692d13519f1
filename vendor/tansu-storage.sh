#!/usr/bin/env bash
# The ptrack changes to tansu-storage, kept as one patch file beside the vendored copy.
#
#   vendor/tansu-storage.sh verify       vendor/tansu-storage = upstream + vendor/tansu-storage.patch
#   vendor/tansu-storage.sh regenerate   write vendor/tansu-storage.patch from the vendored copy
#   vendor/tansu-storage.sh upstream     print the folder of the pristine upstream source
#
# "Upstream" is the crates.io release named in vendor/tansu-storage/Cargo.toml (or
# TANSU_VERSION), fetched by cargo into its registry (network needed once) and compared
# without its Cargo.lock (cargo ignores a path dependency's lock file) and its tests/
# folder (nothing ran it: vendor/ is outside the workspace). PTRACK-PATCH.md is ours and
# not part of the patch. See vendor/tansu-storage/PTRACK-PATCH.md, "Updating tansu".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
vendored=$root/vendor/tansu-storage
patch_file=$root/vendor/tansu-storage.patch
version=${TANSU_VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' "$vendored/Cargo.toml" | head -n 1)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The registry copy of tansu-storage $version, fetched through a throwaway crate.
upstream() {
    local cargo_home=${CARGO_HOME:-$HOME/.cargo} found
    found=$(ls -d "$cargo_home"/registry/src/*/"tansu-storage-$version" 2>/dev/null | head -n 1 || true)
    if [ -z "$found" ]; then
        mkdir -p "$work/fetch/src"
        touch "$work/fetch/src/lib.rs"
        cat >"$work/fetch/Cargo.toml" <<EOF
[package]
name = "fetch-tansu-storage"
version = "0.0.0"
edition = "2021"

[dependencies]
tansu-storage = { version = "=$version", default-features = false }
EOF
        cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml" >&2
        found=$(ls -d "$cargo_home"/registry/src/*/"tansu-storage-$version" | head -n 1)
    fi
    echo "$found"
}

# $1 (a folder) as the vendored copy would be without the patch: upstream, less what we drop.
clean_copy() {
    mkdir -p "$1"
    cp -R "$(upstream)/." "$1"
    rm -rf "$1/.cargo-ok" "$1/Cargo.lock" "$1/tests"
}

case "${1:-}" in
    upstream)
        upstream
        ;;
    verify)
        clean_copy "$work/patched"
        (cd "$work/patched" && patch --quiet --batch -p1 <"$patch_file")
        if diff -r -x PTRACK-PATCH.md "$work/patched" "$vendored"; then
            echo "vendor/tansu-storage is tansu-storage $version + vendor/tansu-storage.patch"
        else
            echo "vendor/tansu-storage differs from tansu-storage $version + the patch (above);" \
                "if the change is meant, run: vendor/tansu-storage.sh regenerate" >&2
            exit 1
        fi
        ;;
    regenerate)
        # A throwaway git repository gives a patch with short paths and no timestamps.
        clean_copy "$work/tree"
        export GIT_DIR=$work/git GIT_WORK_TREE=$work/tree
        git init --quiet
        cd "$work/tree"
        git add --all
        before=$(git write-tree)
        find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +
        cp -R "$vendored/." .
        rm -f PTRACK-PATCH.md
        git add --all
        git diff --no-color --no-ext-diff "$before" "$(git write-tree)" >"$patch_file"
        echo "wrote vendor/tansu-storage.patch (tansu-storage $version -> vendor/tansu-storage)"
        ;;
    *)
        sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
        exit 2
        ;;
esac
