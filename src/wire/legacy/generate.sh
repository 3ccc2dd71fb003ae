#!/bin/sh
# Regenerates the FlatBuffers code of the legacy envelope: TypeScript for the codec (src/wire/legacy/generated/) and
# Python for the test agent (test/fixtures/legacy-agent/spear_legacy/). Needs flatc 2.0.8 (Debian package
# flatbuffers-compiler). Run from anywhere; the output is committed.
#
# flatc's TypeScript uses `enum` (rejected by the project's erasableSyntaxOnly) and leaves an unused type parameter,
# so the raw output is type-checked here under plain strict settings, then marked `@ts-nocheck` so the project-wide
# check, which follows imports into excluded folders, does not report it again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
version=$(flatc --version)
case "$version" in
  *2.0.8*) ;;
  *) echo "warning: expected flatc 2.0.8, found: $version" >&2 ;;
esac

out="$here/generated"
rm -rf "$out"
mkdir -p "$out"
flatc --ts --ts-flat-files -o "$out" "$here/transport.fbs" "$here/custom.fbs"
(cd "$root" && npx tsc --ignoreConfig --noEmit --strict --target ES2023 --module NodeNext --moduleResolution NodeNext \
  --skipLibCheck --types node "$out/transport_generated.ts" "$out/custom_generated.ts")
for file in "$out"/*.ts; do
  { echo '// @ts-nocheck -- added by generate.sh: flatc emits enums (see generate.sh)'; cat "$file"; } > "$file.tmp"
  mv "$file.tmp" "$file"
done

agent="$root/test/fixtures/legacy-agent"
if [ -d "$agent" ]; then
  rm -rf "$agent/spear_legacy"
  mkdir -p "$agent/spear_legacy"
  flatc --python -o "$agent/spear_legacy" "$here/transport.fbs" "$here/custom.fbs"
fi
