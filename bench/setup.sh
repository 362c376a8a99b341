#!/usr/bin/env bash
# Installs the bench's baseline and client tools (socat, curl, aria2c; sha256sum is in coreutils) where it can.
# Without them the bench still runs and says which cases it skipped.
missing=()
for pair in socat:socat curl:curl aria2c:aria2; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ((${#missing[@]} > 0)) && command -v apt-get >/dev/null 2>&1; then
  (apt-get install -y "${missing[@]}" || (apt-get update && apt-get install -y "${missing[@]}")) >/dev/null 2>&1 ||
    echo "bench: could not install ${missing[*]}; the cases that need them will be skipped" >&2
fi
exit 0
